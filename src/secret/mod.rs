//! The secrets a roster names, read once at validation and kept out of every output:
//! where a secret is read from ([`source`]: `*_env` or `*_file`), a hub's API token
//! ([`token`]), its CA bundle ([`tls`]), and an alert webhook URL ([`webhook_url`]).

pub mod source;
pub mod tls;
pub mod token;
pub mod webhook_url;
