//! Reading what the browser sends back.

use serde_json::Value;
use uuid::Uuid;
use webauthn_rs_core::proto::{PublicKeyCredential, RegisterPublicKeyCredential};

use crate::ResponseError;

/// The largest response read (real ones are 1–4 KiB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Parses JSON from the browser (`credential.toJSON()`, or the equivalent built by hand)
/// into `T`, after the size check and the removal of a duplicate extensions field: browsers'
/// `toJSON()` names it `clientExtensionResults`, older code `extensions`, and a response
/// carrying both would otherwise be refused as a duplicate.
fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ResponseError> {
    if json.len() > MAX_RESPONSE_BYTES {
        return Err(ResponseError::TooLarge);
    }
    let mut value: Value = serde_json::from_str(json).map_err(|_| ResponseError::Malformed)?;
    if let Some(obj) = value.as_object_mut()
        && obj.contains_key("clientExtensionResults")
    {
        obj.remove("extensions");
    }
    serde_json::from_value(value).map_err(|_| ResponseError::Malformed)
}

pub(crate) fn registration(json: &str) -> Result<RegisterPublicKeyCredential, ResponseError> {
    parse(json)
}

pub(crate) fn assertion(json: &str) -> Result<PublicKeyCredential, ResponseError> {
    parse(json)
}

/// The credential id an assertion names (its `rawId`), read with the same limits as the
/// ceremony: for acting on a refusal (a counter that went backwards names the credential to
/// suspend). The id is only a claim until the ceremony verified the signature.
///
/// # Errors
/// [`ResponseError::TooLarge`] or [`ResponseError::Malformed`].
pub fn assertion_credential_id(json: &str) -> Result<Vec<u8>, ResponseError> {
    Ok(assertion(json)?.raw_id.to_vec())
}

/// The AAGUID in the attested credential data of an attestation object, if non-zero.
pub(crate) fn aaguid(attestation_object: &[u8]) -> Option<Uuid> {
    use serde_cbor_2::Value as C;
    let value: C = serde_cbor_2::from_slice(attestation_object).ok()?;
    let C::Map(map) = value else { return None };
    let auth_data = map.iter().find_map(|(k, v)| match (k, v) {
        (C::Text(k), C::Bytes(b)) if k == "authData" => Some(b),
        _ => None,
    })?;
    let flags = *auth_data.get(32)?;
    if flags & 0x40 == 0 {
        return None;
    }
    let bytes: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    (bytes != [0; 16]).then(|| Uuid::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_cbor_2::Value as C;

    use super::aaguid;

    fn object(flags: u8, aaguid: [u8; 16]) -> Vec<u8> {
        let mut auth_data = vec![0u8; 32];
        auth_data.push(flags);
        auth_data.extend_from_slice(&[0, 0, 0, 1]);
        auth_data.extend_from_slice(&aaguid);
        auth_data.extend_from_slice(&[0, 2, 9, 9]);
        let map = [
            (C::Text("fmt".into()), C::Text("none".into())),
            (C::Text("attStmt".into()), C::Map(Default::default())),
            (C::Text("authData".into()), C::Bytes(auth_data)),
        ];
        serde_cbor_2::to_vec(&C::Map(map.into_iter().collect())).unwrap()
    }

    #[test]
    fn aaguid_is_read_when_present_and_non_zero() {
        let yubikey = [
            0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1,
            0x54, 0xa8,
        ];
        assert_eq!(aaguid(&object(0x41, yubikey)).unwrap().as_bytes(), &yubikey);
        assert_eq!(aaguid(&object(0x41, [0; 16])), None);
        assert_eq!(aaguid(&object(0x01, yubikey)), None, "no attested credential data");
        assert_eq!(aaguid(b"garbage"), None);
        assert_eq!(aaguid(&[]), None);
    }
}
