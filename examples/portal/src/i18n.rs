//! Every string a person reads, in Japanese and English.

use mfa_flow::{FactorKind, LoginError, RetirementReason, SuspensionReason, Unavailable};

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 日本語.
    Ja,
    /// English.
    En,
}

impl Lang {
    /// From an `Accept-Language` header: Japanese if it comes first, else English.
    #[must_use]
    pub fn from_accept(header: Option<&str>) -> Self {
        match header.and_then(|h| h.split(',').next()) {
            Some(first) if first.trim().to_ascii_lowercase().starts_with("ja") => Self::Ja,
            _ => Self::En,
        }
    }

    /// `ja` / `en`.
    #[must_use]
    pub const fn tag(self) -> &'static str {
        match self {
            Self::Ja => "ja",
            Self::En => "en",
        }
    }
}

/// The text for `key` in `lang` (`?` if unknown, so a missing entry shows).
#[must_use]
pub fn t(lang: Lang, key: &str) -> &'static str {
    lookup(lang, key).unwrap_or("?")
}

/// The text for `key` in `lang`, if there is one.
#[must_use]
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    let (ja, en) = match key {
        "login" => ("ログイン", "Log in"),
        "logout" => ("ログアウト", "Log out"),
        "signup" => ("アカウント作成", "Create an account"),
        "email" => ("メールアドレス", "Email address"),
        "identifier" => ("メールアドレス（またはユーザー名）", "Email address (or username)"),
        "password" => ("パスワード", "Password"),
        "new_password" => ("新しいパスワード", "New password"),
        "username" => ("ユーザー名", "Username"),
        "username_legacy_note" => (
            "メールアドレスを唯一のユーザー名として使用することをお勧めします。既存のユーザー名は引き続きサポートされますが、徐々に廃止される予定です。",
            "We recommend the email address as the only user name. Existing usernames remain supported but will be phased out gradually.",
        ),
        "username_warning" => (
            "ユーザー名でのログインは廃止予定です。今後はメールアドレスでログインしてください。",
            "Logging in with a username is being phased out. Please log in with your email address from now on.",
        ),
        "confirm_email_login" => {
            ("メールアドレスをユーザー名として使用する", "Use the email address as the user name")
        }
        "first_name" => ("名", "First name"),
        "last_name" => ("姓", "Last name"),
        "language" => ("言語", "Language"),
        "time_zone" => ("タイムゾーン", "Time zone"),
        "analytics" => (
            "匿名の利用統計を送信する（第三者には送信されません）",
            "Send anonymous usage statistics (never sent to third parties)",
        ),
        "settings" => ("設定", "Settings"),
        "save" => ("保存", "Save"),
        "close" => ("閉じる", "Close"),
        "saved" => ("保存しました。", "Saved."),
        "mfa" => ("多要素認証", "Multi-factor authentication"),
        "mfa_disabled" => ("多要素認証は無効です", "Multi-factor authentication is disabled"),
        "mfa_enabled" => ("多要素認証は有効です", "Multi-factor authentication is enabled"),
        "enable" => ("有効にする", "Enable"),
        "methods" => ("認証方法", "Authentication methods"),
        "add" => ("+ 追加", "+ Add"),
        "remove" => ("削除", "Remove"),
        "rename" => ("名前の変更", "Rename"),
        "change_password" => ("パスワードの変更", "Change password"),
        "change_email" => ("メールアドレスの変更", "Change email address"),
        "email_change_sent_confirm" => (
            "新しいメールアドレスに確認メールを送信しました。リンクを開くと変更されます。",
            "We sent a confirmation to the new address. The change takes effect when its link is opened.",
        ),
        "email_changed" => (
            "メールアドレスを変更しました。新しいメールアドレスでログインしてください。",
            "Your email address was changed. Log in with the new address from now on.",
        ),
        "email_reverted" => (
            "メールアドレスを元に戻し、すべてのログインを終了しました。変更した人はパスワードを知っている可能性があります。今すぐパスワードを再設定してください。",
            "Your email address was restored and every session was ended. Whoever changed it may know your password: reset it now.",
        ),
        "email_revert_title" => ("メールアドレスを元に戻す", "Restore your email address"),
        "email_revert_help" => (
            "このボタンを押すと、ログイン用メールアドレスがこのメールアドレスに戻り、すべてのログインが終了します。",
            "Pressing the button makes this address the login again and ends every session.",
        ),
        "email_confirm_help" => (
            "このボタンを押すと、このメールアドレスがログイン用メールアドレスになります。",
            "Pressing the button makes this address the login address.",
        ),
        "signup_code_help" => (
            "確認コードをメールで送りました。コードを入力するか、メールのリンクを開いてください。",
            "We mailed you a confirmation code. Type it here, or open the link in the mail.",
        ),
        "signup_confirm" => ("メールアドレスを確認", "Confirm your email address"),
        "signup_link_help" => (
            "アカウントの作成を完了するには、登録時に設定したパスワードを入力してください。",
            "To finish creating your account, enter the password you chose when you signed up.",
        ),
        "signup_confirmed" => (
            "メールアドレスを確認しました。ログインしてください。",
            "Your email address is confirmed. Please log in.",
        ),
        "below_aal2" => (
            "メールで届くコードは、端末ではなくメールボックスの確認にとどまるため、この認証方法としては利用できません。",
            "Codes by email prove the mailbox, not a device you hold, so they are not offered as a sign-in method.",
        ),
        "weakest_method" => (
            "最も弱い方法です。重要な変更の確認には使えません。ほかの方法も追加してください。",
            "The weakest method: it cannot confirm sensitive changes. Add another one too.",
        ),
        "weak_secret" => (
            "以前のシステムから移行した短い鍵です。認証アプリを設定し直してください。",
            "A short key moved from an earlier system: set the app up again.",
        ),
        "username_refused_from" => (
            "ユーザー名でのログインは次の日時から利用できなくなります:",
            "Usernames will no longer sign in from",
        ),
        "retires_from" => (
            "この方法は次の日時から利用できなくなります:",
            "This method can no longer be used from",
        ),
        "username_removed" => (
            "ユーザー名を削除しました。今後はメールアドレスでログインしてください。",
            "Your username was removed. Sign in with your email address from now on.",
        ),
        "address_confirm_title" => ("メールアドレスの確認", "Confirm your email address"),
        "address_confirm_help" => (
            "このボタンを押すと、このメールアドレスがご自身のものであることを確認し、新しいパスワードの設定に進みます。移行前のパスワードと認証方法は使えなくなります。",
            "Pressing the button confirms that this address is yours and leads to choosing a new password. The password and sign-in methods brought over from before stop working.",
        ),
        "address_confirmed" => (
            "メールアドレスを確認しました。新しいパスワードを設定してください。",
            "Your email address is confirmed. Choose your password.",
        ),
        "err_account_disabled" => (
            "このアカウントは無効になっています。サポートにお問い合わせください。",
            "This account is disabled. Please contact support.",
        ),
        "err_address_unconfirmed" => (
            "メールアドレスを確認するためのリンクを送りました。リンクを開いてから、もう一度ログインしてください。",
            "We sent a link to confirm your email address. Open it, then sign in again.",
        ),
        "push_pending" => {
            ("通知への応答を待っています。", "A push is already waiting for an answer.")
        }
        "push_too_many_recent" => (
            "短時間に通知が多すぎるため、一時的に送信できません。",
            "Too many pushes in a short time: none can be sent for now.",
        ),
        "push_too_many_today" => {
            ("本日の通知の上限に達しました。", "Today's limit of pushes is reached.")
        }
        "push_paused_denials" => (
            "拒否が続いたため一時停止中です。ほかの方法でログインしてください。",
            "Paused after repeated denials: sign in with another method.",
        ),
        "push_paused_fraud" => (
            "不正の報告があったため一時停止中です。ほかの方法でログインしてください。",
            "Paused after a fraud report: sign in with another method.",
        ),
        "until" => ("再開:", "until"),
        "err_push_mismatch" => (
            "スマートフォンで選んだ番号が、この画面の番号と一致しませんでした。承認されていません。",
            "The number chosen on the phone was not the one on this page. Nothing was approved.",
        ),
        "err_push_reported" => (
            "このログインはスマートフォンで不正として報告されたため拒否され、プッシュ通知による承認は一時停止されました。ほかの方法でログインし、パスワードを変更してください。",
            "You reported this sign-in on your phone: it was refused and push approvals are paused. Sign in with another method, then change your password.",
        ),
        "err_login_finished" => {
            ("このログインは既に完了しています。", "This sign-in has already finished.")
        }
        "forgot_password" => ("パスワードをお忘れの場合", "Forgot your password?"),
        "forgot_help" => (
            "アカウントのメールアドレスを入力してください。パスワード再設定用のリンクを送ります。その後、認証方法（またはリカバリーコード）による確認が必要です。",
            "Enter your account's email address and we will mail you a link to reset your password. Your sign-in method (or a recovery code) is asked for after it.",
        ),
        "forgot_send" => ("再設定用リンクを送る", "Email me a reset link"),
        "forgot_sent" => (
            "アカウントがあれば、再設定用リンクを送りました。メールを確認してください。",
            "If there is an account, a reset link is on its way. Check your mail.",
        ),
        "reset_title" => ("パスワードの再設定", "Reset your password"),
        "reset_help" => (
            "続けると、このアカウントの認証方法（またはリカバリーコード）による確認に進みます。",
            "Continue to confirm with your sign-in method (or a recovery code).",
        ),
        "reset_done" => (
            "パスワードを再設定し、すべてのログインを終了しました。新しいパスワードでログインしてください。",
            "Your password was reset and every session was ended. Log in with the new password.",
        ),
        "err_link_unknown" => (
            "このリンクは無効です。メールのリンク全体を開いたか確認してください。",
            "This link is not valid. Check that you opened the whole link from the mail.",
        ),
        "err_link_used" => {
            ("このリンクは既に使用されています。", "This link has already been used.")
        }
        "err_link_expired" => (
            "このリンクの有効期限が切れています。もう一度やり直してください。",
            "This link has expired. Please start again.",
        ),
        "err_link_superseded" => (
            "このリンクは、その後の変更によって無効になりました。",
            "A later change has replaced this link.",
        ),
        "err_account_exists" => (
            "このメールアドレスのアカウントは既にあります。ログインしてください。",
            "This address already has an account. Please log in.",
        ),
        "err_recovery_support" => (
            "このアカウントはメールだけでは復旧できません。サポートにお問い合わせください。",
            "This account cannot be recovered by email alone. Please contact support.",
        ),
        "second_factor" => ("追加の認証", "One more step"),
        "enter_code" => ("コードを入力", "Enter the code"),
        "totp_prompt" => (
            "認証アプリに表示されているコードを入力してください。",
            "Enter the code shown in your authenticator app.",
        ),
        "recovery_prompt" => {
            ("リカバリーコードを入力してください。", "Enter one of your recovery codes.")
        }
        "email_code_prompt" => {
            ("次のアドレスに送信したコードを入力してください:", "Enter the code we sent to:")
        }
        "webauthn_prompt" => (
            "セキュリティキーまたはパスキーで確認してください。",
            "Confirm with your security key or passkey.",
        ),
        "push_prompt" => (
            "スマートフォンの通知を開き、次の番号を入力してください:",
            "Open the notification on your phone and type this number:",
        ),
        "use_key" => ("キーを使用", "Use my key"),
        "try_another" => ("別の方法を試す", "Try another method"),
        "unavailable" => ("利用できない方法", "Unavailable methods"),
        "verify" => ("確認", "Verify"),
        "enroll_required" => (
            "メールアドレスとパスワードでのログイン後、追加の認証が必要になりました。認証方法を1つ追加してください。",
            "A second authentication is now required after your email and password. Add one method to continue.",
        ),
        "totp_title" => (
            "Google Authenticator またはその他の認証アプリ",
            "Google Authenticator or a similar app",
        ),
        "totp_help" => (
            "アプリで「+」→「QRコードをスキャン」を選択し（Microsoft Authenticator では「職場または学校アカウント」）、表示されたコードを入力して保存してください。",
            "In the app choose \"+\" → \"Scan a QR code\" (in Microsoft Authenticator: \"Work or school account\"), then enter the code it shows and save.",
        ),
        "secret_manual" => ("スキャンできない場合はこのキーを入力:", "Can't scan? Type this key:"),
        "security_key" => ("セキュリティキー", "Security key"),
        "passkey" => ("パスキー", "Passkey"),
        "biometric_key" => ("生体認証キー", "Biometric key"),
        "push" => ("プッシュ通知アプリ", "Push notification app"),
        "totp" => ("認証アプリ", "Authenticator app"),
        "email_code" => ("メールアドレス", "Email address"),
        "recovery_codes" => ("リカバリーコード", "Recovery codes"),
        "sms" => ("電話番号", "Phone number"),
        "voice" => ("電話（音声）", "Phone call"),
        "sms_retired" => (
            "仕様変更のため、SMS 認証はご利用いただけなくなりました。",
            "Because of a specification change, SMS authentication can no longer be used.",
        ),
        "retired_other" => {
            ("この方法は利用できなくなりました。", "This method can no longer be used.")
        }
        "no_biometric" => (
            "登録された生体認証キーがありません。次回のログイン時に登録を試してください。",
            "No biometric key registered. Try registering one at your next login.",
        ),
        "key_name" => ("キーの名前", "Key name"),
        "key_insert" => (
            "セキュリティデバイスを挿入するか、画面の指示に従ってください。",
            "Insert your security device, or follow your browser's prompt.",
        ),
        "register" => ("登録", "Register"),
        "push_scan" => (
            "スマートフォンのアプリでこの QR コードをスキャンしてください。",
            "Scan this QR code with the app on your phone.",
        ),
        "push_confirm_number" => (
            "アプリで次の番号を入力して承認してください:",
            "Approve in the app by typing this number:",
        ),
        "recovery_title" => ("リカバリーコード", "Recovery codes"),
        "recovery_help" => (
            "スマートフォンを紛失した場合に使用します。安全な場所に保管してください。各コードは1回のみ使用できます。",
            "Use these if you lose your phone. Keep them somewhere safe; each works once.",
        ),
        "regenerate" => ("新しいコードを発行", "Generate new codes"),
        "offer_biometric" => (
            "このデバイスで生体認証キーを登録しますか？",
            "Register a biometric key on this device?",
        ),
        "not_now" => ("今はしない", "Not now"),
        "step_up" => (
            "本人確認のため、もう一度認証してください。",
            "Please confirm it's you with your second factor.",
        ),
        "continue" => ("続ける", "Continue"),
        "err_credentials" => (
            "メールアドレスまたはパスワードが正しくありません。",
            "The email address or password is not correct.",
        ),
        "err_username_refused" => (
            "ユーザー名でのログインは終了しました。メールアドレスでログインしてください。",
            "Usernames can no longer be used to log in. Log in with your email address.",
        ),
        "err_throttled" => (
            "試行回数が多すぎます。しばらくしてからもう一度お試しください。",
            "Too many attempts. Please try again later.",
        ),
        "err_expired" => (
            "有効期限が切れました。最初からやり直してください。",
            "This has expired. Please start again.",
        ),
        "err_code" => ("コードが正しくありません。", "The code is not correct."),
        "err_push_denied" => {
            ("スマートフォンで拒否されました。", "The sign-in was denied on the phone.")
        }
        "err_method" => ("この方法は利用できません。", "This method is not available."),
        "err_step_up" => {
            ("この操作には追加の認証が必要です。", "This action needs a fresh second factor.")
        }
        "err_last_factor" => (
            "最後の認証方法は削除できません。",
            "You cannot remove your last authentication method.",
        ),
        "err_invalid" => ("入力内容を確認してください。", "Please check what you entered."),
        "err_content_type" => (
            "JSON で送信してください（Content-Type: application/json）。",
            "Send JSON (Content-Type: application/json).",
        ),
        "err_too_large" => ("リクエストが大きすぎます。", "The request is too large."),
        "err_not_found" => ("ここには何もありません。", "There is nothing here."),
        "err_internal" => (
            "エラーが発生しました。もう一度お試しください。",
            "Something went wrong. Please try again.",
        ),
        "err_csrf" => (
            "ページの有効期限が切れました。再読み込みしてください。",
            "This page has expired. Please reload it.",
        ),
        "err_login_required" => ("ログインしてください。", "Please log in."),
        "change_password_required" => (
            "以前のシステムから移行したパスワードは一部しか確認できませんでした。新しいパスワードを設定してください。",
            "Your password came from the previous system, which could check only part of it. Please choose a new password.",
        ),
        "link_title" => ("ログインできない場合", "Cannot sign in?"),
        "link_help" => (
            "試行が多すぎてログインできない場合は、登録済みのメールアドレスにログイン用リンクを送ります。そのリンクを開いたブラウザからは、パスワードと認証方法でログインできます。",
            "If too many attempts keep you from signing in, we mail a sign-in link to your address. In the browser where you open it, you can sign in with your password and your sign-in method.",
        ),
        "link_send" => ("ログイン用リンクを送る", "Email me a sign-in link"),
        "link_use" => ("このブラウザでリンクを使う", "Use the link in this browser"),
        "link_sent" => (
            "アカウントがあれば、ログイン用リンクを送りました。メールを確認してください。",
            "If there is an account, a sign-in link is on its way. Check your mail.",
        ),
        "link_ok" => (
            "このブラウザからログインできるようになりました。パスワードを入力してください。",
            "This browser may sign in now. Enter your password.",
        ),
        "err_busy" => (
            "ただいま混み合っています。少し待ってからもう一度お試しください。",
            "The service is busy. Try again in a moment.",
        ),
        "suspended_failures" => (
            "失敗が続いたため停止中です。ほかの方法かリカバリーコードでログインすると再び使えます。",
            "Suspended after too many failed attempts. Sign in with another method or a recovery code and it works again.",
        ),
        "err_enroll_first" => ("先に認証方法を追加してください。", "Add a second factor first."),
        "err_timeout" => (
            "時間がかかりすぎました。もう一度お試しください。",
            "The request took too long. Please try again.",
        ),
        "err_proof_required" => (
            "このアカウントには以前の認証方法があります。新しい方法を追加する前に、メールで届くコードかリカバリーコードで本人確認をしてください。",
            "This account had a sign-in method before. Confirm it is yours with a code sent to its email address, or a recovery code, before adding a new one.",
        ),
        "proof_help" => (
            "以前の認証方法（SMS など）は使用できなくなりました。新しい認証方法を追加する前に、登録済みのメールアドレスに届くコード、またはリカバリーコードで本人確認をしてください。",
            "Your earlier sign-in method (such as SMS) can no longer be used. Before adding a new one, confirm it is you with a code sent to your email address, or with one of your recovery codes.",
        ),
        "proof_send" => ("確認コードをメールで送信", "Email me a code"),
        "proof_sent" => ("確認コードを送信しました。", "We sent you a code."),
        "proof_recovery" => ("リカバリーコード", "Recovery code"),
        "current_password" => ("現在のパスワード", "Current password"),
        "password_changed" => (
            "パスワードを変更しました。ほかのブラウザーからはログアウトしました。",
            "Password changed. Every other browser was signed out.",
        ),
        "sessions" => ("ログイン中のブラウザー", "Signed-in browsers"),
        "sessions_help" => (
            "心当たりのないものは終了し、パスワードを変更してください。",
            "End any you do not recognize, and change your password.",
        ),
        "this_browser" => ("このブラウザー", "This browser"),
        "end_session" => ("ログアウトさせる", "Sign out"),
        "end_other_sessions" => {
            ("ほかのすべてのブラウザーからログアウト", "Sign out every other browser")
        }
        "sessions_ended" => {
            ("ほかのブラウザーからログアウトしました。", "Every other browser was signed out.")
        }
        "signed_in_at" => ("ログイン:", "Signed in:"),
        "last_seen" => ("最終アクセス:", "Last seen:"),
        "suspended_clone" => {
            ("複製された可能性があるため停止中", "suspended: it may have been copied")
        }
        "reinstate" => ("再度有効にする", "Re-enable"),
        "err_key_refused" => (
            "セキュリティキーが受け付けられませんでした。登録済みのキーか確認し、もう一度お試しください。",
            "The security key was not accepted. Check that it is one you registered, then try again.",
        ),
        "email_code_sent_to" => ("確認コードの送信先:", "We are sending a code to"),
        "copy" => ("コピー", "Copy"),
        "download" => ("ダウンロード", "Download"),
        "copied" => ("コピーしました。", "Copied."),
        "factor_name" => ("名前", "Name"),
        "activity" => ("最近のセキュリティ アクティビティ", "Recent security activity"),
        "activity_none" => ("まだありません。", "Nothing yet."),
        "act_login" => ("ログイン", "Signed in"),
        "act_login_failed" => ("ログインの失敗（パスワード）", "Failed sign-in (password)"),
        "act_password" => ("パスワードの変更", "Password changed"),
        "act_email_started" => ("メールアドレス変更の開始", "Email change started"),
        "act_email" => ("メールアドレスの変更", "Email address changed"),
        "act_sign_up" => ("アカウント作成", "Account created"),
        "act_reset_requested" => ("パスワード再設定の依頼", "Password reset requested"),
        "act_password_reset" => ("パスワードの再設定", "Password reset"),
        "act_factors_reset" => {
            ("サポートによる認証方法のリセット", "Sign-in methods reset by support")
        }
        "act_email_reverted" => ("メールアドレス変更の取り消し", "Email change reverted"),
        "act_factor_added" => ("認証方法の追加", "Sign-in method added"),
        "act_factor_removed" => ("認証方法の削除", "Sign-in method removed"),
        "act_recovery_used" => ("リカバリーコードの使用", "Recovery code used"),
        "act_recovery_issued" => ("リカバリーコードの発行", "Recovery codes made"),
        "act_sessions_revoked" => ("ほかのログインの終了", "Other sign-ins ended"),
        "act_push_fraud" => ("不正なプッシュ要求の報告", "Push request reported as fraud"),
        "act_factor_suspended" => ("セキュリティキーの停止", "Security key suspended"),
        "act_factor_reinstated" => ("認証方法の再有効化", "Sign-in method re-enabled"),
        "err_retired" => (
            "仕様変更のため、この認証方法は追加できなくなりました。",
            "Because of a specification change, this method can no longer be added.",
        ),
        _ => return None,
    };
    Some(match lang {
        Lang::Ja => ja,
        Lang::En => en,
    })
}

/// The message key for a flow error.
#[must_use]
pub fn error_key(e: &LoginError) -> &'static str {
    match e {
        LoginError::InvalidCredentials => "err_credentials",
        LoginError::UsernameRefused => "err_username_refused",
        LoginError::Throttled { .. } => "err_throttled",
        LoginError::FlowExpired => "err_expired",
        LoginError::WrongSecondFactor => "err_code",
        LoginError::PushDenied => "err_push_denied",
        LoginError::PushNumberMismatch => "err_push_mismatch",
        LoginError::PushReported => "err_push_reported",
        LoginError::LoginFinished => "err_login_finished",
        LoginError::MethodUnavailable => "err_method",
        LoginError::StepUpRequired => "err_step_up",
        LoginError::LastFactor => "err_last_factor",
        LoginError::NotSignedIn => "err_login_required",
        LoginError::ProofRequired => "err_proof_required",
        LoginError::Refused(_) | LoginError::Malformed => "err_invalid",
        LoginError::Link(mfa_flow::LinkProblem::Used) => "err_link_used",
        LoginError::Link(mfa_flow::LinkProblem::Expired) => "err_link_expired",
        LoginError::Link(mfa_flow::LinkProblem::Superseded) => "err_link_superseded",
        LoginError::Link(_) => "err_link_unknown",
        LoginError::RecoveryNeedsSupport => "err_recovery_support",
        LoginError::AccountDisabled => "err_account_disabled",
        LoginError::AddressUnconfirmed => "err_address_unconfirmed",
        LoginError::AccountExists => "err_account_exists",
        _ => "err_internal",
    }
}

/// The name of a factor kind.
#[must_use]
pub fn kind_key(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::SecurityKey => "security_key",
        FactorKind::Passkey => "passkey",
        FactorKind::BiometricKey => "biometric_key",
        FactorKind::Push => "push",
        FactorKind::Totp => "totp",
        FactorKind::EmailCode => "email_code",
        FactorKind::RecoveryCodes => "recovery_codes",
        FactorKind::Sms => "sms",
        _ => "voice",
    }
}

/// The message for a retirement reason.
#[must_use]
pub fn retired_key(reason: RetirementReason) -> &'static str {
    match reason {
        RetirementReason::SpecificationChange => "sms_retired",
        RetirementReason::BelowAal2 => "below_aal2",
        _ => "retired_other",
    }
}

/// The message for a factor that cannot be used.
#[must_use]
pub fn unavailable_key(reason: Unavailable) -> &'static str {
    match reason {
        Unavailable::Retired { reason } => retired_key(reason),
        Unavailable::Suspended { reason: SuspensionReason::TooManyFailures, .. } => {
            "suspended_failures"
        }
        Unavailable::PushPaused { pause, .. } => match pause {
            mfa_flow::PushPause::Pending => "push_pending",
            mfa_flow::PushPause::TooManyRecent => "push_too_many_recent",
            mfa_flow::PushPause::TooManyToday => "push_too_many_today",
            mfa_flow::PushPause::AfterDenials => "push_paused_denials",
            _ => "push_paused_fraud",
        },
        _ => "suspended_clone",
    }
}
