//! The API described for clients: an OpenAPI 3.1 document built from the same route table
//! as the router ([`api`](crate::api())), with the request bodies' schemas derived from the
//! types the handlers read (utoipa), so the description cannot drift from the code.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, Schema};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, ServerBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone (a JSON body, which another site's page cannot send without CORS).
    Public,
    /// A session cookie (enrollment-only sessions included where the flow allows).
    Session,
    /// A session cookie and the `X-CSRF-Token` header.
    Csrf,
    /// The phone: a signed message of the push protocol, no cookie.
    Device,
}

impl Access {
    fn describe(self) -> &'static str {
        match self {
            Self::Public => "Public.",
            Self::Session => "Needs the session cookie.",
            Self::Csrf => {
                "Needs the session cookie and the X-CSRF-Token header (from GET /session)."
            }
            Self::Device => {
                "The phone: a signed message of the push protocol (see the mfa-push PROTOCOL), no cookie."
            }
        }
    }
}

/// A request body's schema: its name and the schema.
pub(crate) type BodySchema = fn() -> (String, RefOr<Schema>);

/// One route of the API as the description lists it.
#[derive(Debug)]
pub(crate) struct RouteDoc {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    pub(crate) access: Access,
    pub(crate) body: Option<BodySchema>,
    pub(crate) summary: &'static str,
}

pub(crate) fn schema_of<T: ToSchema>() -> (String, RefOr<Schema>) {
    (T::name().into_owned(), T::schema())
}

/// Every error answer.
#[derive(ToSchema)]
#[allow(dead_code)] // Only its schema is used.
struct Error {
    /// Always false.
    ok: bool,
    /// The stable code (`err_…`).
    error: String,
    /// A message for people, in the reader's language where the server translates.
    message: String,
    /// What exactly was refused, when the code alone does not say.
    detail: Option<String>,
}

/// The API's OpenAPI description, for the API nested at `base` (`"/auth"`: the server URL
/// of the document). Serve it as JSON (`serde_json::to_string(&openapi("/auth"))`).
#[must_use]
pub fn openapi(base: &str) -> OpenApi {
    let mut components = ComponentsBuilder::new().schema("Error", Error::schema());
    let mut paths = PathsBuilder::new();
    for r in crate::api::ROUTES {
        let method = if r.method == "get" { HttpMethod::Get } else { HttpMethod::Post };
        let error = ResponseBuilder::new()
            .description("Refused: the error's code says why (401 sign in, 403 CSRF or a fresh second factor needed, 429 throttled with Retry-After).")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build())
            .build();
        let mut op = OperationBuilder::new()
            .summary(Some(r.summary))
            .description(Some(r.access.describe()))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("Done: a JSON object with \"ok\": true.")
                    .build(),
            )
            .response("4XX", error.clone())
            .response("5XX", error);
        if let Some(schema) = r.body {
            let (name, schema) = schema();
            components = components.schema(name.clone(), schema);
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(name))).build();
            op = op.request_body(Some(
                RequestBodyBuilder::new().content("application/json", content).build(),
            ));
        }
        paths = paths.path(r.path, PathItem::new(method, op.build()));
    }
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title("mfa-axum API").version(env!("CARGO_PKG_VERSION")).build())
        .servers(Some([ServerBuilder::new().url(base).build()]))
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}
