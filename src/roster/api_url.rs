//! A hub's `api_url` (and `dump --api-url`): parsed once, refused with a message that
//! never repeats a part of the URL that may hold a secret, and compared as the same hub
//! however it is written.

/// Two api_urls name the same hub when scheme, host, port (the default one written
/// or not) and path (trailing slash or not) agree: this is what they are compared by.
pub(super) fn same_hub_key(url: &url::Url) -> String {
    format!(
        "{}://{}:{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default().to_lowercase(),
        url.port_or_known_default().unwrap_or_default(),
        url.path().trim_end_matches('/')
    )
}

/// Why an `api_url` (or `--api-url`) is refused; the text never repeats a part of the
/// URL that may hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ApiUrlError(String);

/// The hub's API base from `text`: http or https, a host, no credentials, no query,
/// no trailing slash.
pub fn parse_api_url(text: &str) -> Result<url::Url, ApiUrlError> {
    let text = text.trim();
    // Text that may hold a secret (a password, a `?token=`) is never echoed.
    let echo = if text.contains(['@', '?', '#']) {
        "(not shown: it may hold a secret)".to_string()
    } else {
        format!("{text:?}")
    };
    let mut url =
        url::Url::parse(text).map_err(|e| ApiUrlError(format!("{echo} is not a URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(ApiUrlError(format!("{echo} is not an http or https URL")));
    }
    // `http:///x` and `http:x` parse as if `x` were the host: refuse what was not written.
    let after_scheme = &text[url.scheme().len()..];
    let authority = after_scheme.strip_prefix("://").unwrap_or("");
    if authority.is_empty()
        || authority.starts_with('/')
        || url.host_str().is_none_or(str::is_empty)
    {
        return Err(ApiUrlError(format!("{echo} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiUrlError(
            "must not carry a user name or password; use token_env or token_file".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        return Err(ApiUrlError(format!(
            "\"{}://{}{port}{}\" must not have a query or fragment",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.path()
        )));
    }
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_hub_however_its_url_is_written() {
        let key = |u: &str| same_hub_key(&parse_api_url(u).unwrap());
        assert_eq!(key("http://Hub:80/hub/api/"), key("http://hub/hub/api"));
        assert_ne!(key("https://hub/hub/api"), key("http://hub/hub/api"));
    }

    #[test]
    fn a_refused_url_never_repeats_what_may_be_a_secret() {
        for url in [
            "http://user:hunter2@h/hub/api",
            "http://h/hub/api?token=hunter2",
        ] {
            let error = parse_api_url(url).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
        assert!(
            parse_api_url("http:///x")
                .unwrap_err()
                .to_string()
                .contains("no host")
        );
    }
}
