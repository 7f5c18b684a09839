//! Plain OAuth2 providers whose profile comes from a REST API: GitHub, Discord, Facebook, X.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, TokenResponse, TokenUrl,
};
use serde::Deserialize;

use crate::{
    AuthError, PendingSignIn, Profile, Provider, ProviderConfig, ProviderKind, checked_url,
    key_error, token_error,
};

#[derive(Debug)]
pub(crate) struct Endpoints {
    auth_url: AuthUrl,
    token_url: TokenUrl,
    userinfo_url: String,
    /// GitHub only.
    emails_url: Option<String>,
}

impl Endpoints {
    pub(crate) fn new(name: &str, config: &ProviderConfig) -> Result<Self, AuthError> {
        let (auth, token, userinfo) = match config.kind {
            ProviderKind::Github => (
                "https://github.com/login/oauth/authorize",
                "https://github.com/login/oauth/access_token",
                "https://api.github.com/user",
            ),
            ProviderKind::Discord => (
                "https://discord.com/oauth2/authorize",
                "https://discord.com/api/oauth2/token",
                "https://discord.com/api/users/@me",
            ),
            ProviderKind::Facebook => (
                "https://www.facebook.com/v19.0/dialog/oauth",
                "https://graph.facebook.com/v19.0/oauth/access_token",
                "https://graph.facebook.com/me?fields=id,name,email,picture",
            ),
            ProviderKind::Twitter => (
                "https://twitter.com/i/oauth2/authorize",
                "https://api.twitter.com/2/oauth2/token",
                "https://api.twitter.com/2/users/me?user.fields=profile_image_url,name,username",
            ),
            ProviderKind::Google | ProviderKind::Gitlab | ProviderKind::Oidc => {
                return Err(key_error(name, "kind", "is not a plain OAuth2 provider"));
            }
        };
        let auth_url = checked_url(name, "auth_url", config.auth_url.as_ref())?
            .unwrap_or_else(|| auth.to_owned());
        let token_url = checked_url(name, "token_url", config.token_url.as_ref())?
            .unwrap_or_else(|| token.to_owned());
        let overridden_userinfo = checked_url(name, "userinfo_url", config.userinfo_url.as_ref())?;
        let emails_url = match config.kind {
            ProviderKind::Github => Some(
                match checked_url(name, "emails_url", config.emails_url.as_ref())? {
                    Some(url) => url,
                    None => match &overridden_userinfo {
                        Some(user) => format!("{}/emails", user.trim_end_matches('/')),
                        None => "https://api.github.com/user/emails".to_owned(),
                    },
                },
            ),
            _ => None,
        };
        let userinfo_url = overridden_userinfo.unwrap_or_else(|| userinfo.to_owned());
        Ok(Self {
            auth_url: AuthUrl::new(auth_url)
                .map_err(|e| key_error(name, "auth_url", e.to_string()))?,
            token_url: TokenUrl::new(token_url)
                .map_err(|e| key_error(name, "token_url", e.to_string()))?,
            userinfo_url,
            emails_url,
        })
    }
}

impl Provider {
    fn rest_client(
        &self,
        endpoints: &Endpoints,
    ) -> BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    > {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(endpoints.auth_url.clone())
            .set_token_uri(endpoints.token_url.clone())
            .set_redirect_uri(self.redirect_url.clone())
            // Facebook documents credentials in the body; the others accept HTTP Basic
            // (X requires it for confidential clients).
            .set_auth_type(match self.kind {
                ProviderKind::Facebook => AuthType::RequestBody,
                _ => AuthType::BasicAuth,
            });
        match &self.client_secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.clone())),
            None => client,
        }
    }

    pub(crate) fn rest_authorize_url(
        &self,
        endpoints: &Endpoints,
        state: &CsrfToken,
        challenge: PkceCodeChallenge,
    ) -> Result<String, AuthError> {
        let client = self.rest_client(endpoints);
        let state = state.clone();
        let (url, _) = client
            .authorize_url(move || state)
            .add_scopes(self.scopes.iter().map(|s| oauth2::Scope::new(s.clone())))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url.to_string())
    }

    pub(crate) async fn rest_finish(
        &self,
        endpoints: &Endpoints,
        code: String,
        pending: PendingSignIn,
    ) -> Result<Profile, AuthError> {
        let client = self.rest_client(endpoints);
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let access_token = token.access_token().secret();
        match self.kind {
            ProviderKind::Github => self.github_profile(endpoints, access_token).await,
            ProviderKind::Discord => self.discord_profile(endpoints, access_token).await,
            ProviderKind::Facebook => self.facebook_profile(endpoints, access_token).await,
            ProviderKind::Twitter => self.twitter_profile(endpoints, access_token).await,
            ProviderKind::Google | ProviderKind::Gitlab | ProviderKind::Oidc => Err(
                AuthError::Misconfigured(format!("auth.providers.{}.kind: not OAuth2", self.name)),
            ),
        }
    }

    fn profile(
        &self,
        subject: String,
        login: Option<String>,
        name: Option<String>,
        email: Option<String>,
        email_verified: bool,
    ) -> Profile {
        let name = name.filter(|n| !n.trim().is_empty());
        let login = login.filter(|l| !l.is_empty());
        let email = email.filter(|e| !e.is_empty());
        Profile {
            provider: self.name.clone(),
            subject,
            display_name: name
                .or_else(|| login.clone())
                .unwrap_or_else(|| "Anonymous".to_owned()),
            login,
            email_verified: email_verified && email.is_some(),
            email,
            avatar_url: None,
            profile_url: None,
        }
    }

    async fn github_profile(
        &self,
        endpoints: &Endpoints,
        token: &str,
    ) -> Result<Profile, AuthError> {
        #[derive(Deserialize)]
        struct User {
            id: u64,
            login: String,
            name: Option<String>,
            avatar_url: Option<String>,
            html_url: Option<String>,
        }
        #[derive(Deserialize)]
        struct Email {
            email: String,
            primary: bool,
            verified: bool,
        }
        let user: User = self
            .http
            .get_json(&endpoints.userinfo_url, token, "GitHub user")
            .await?;
        let mut email = None;
        if let Some(emails_url) = &endpoints.emails_url {
            // Without the user:email scope GitHub answers 403/404 here; that only means no email.
            match self
                .http
                .get_json::<Vec<Email>>(emails_url, token, "GitHub emails")
                .await
            {
                Ok(emails) => {
                    email = emails
                        .into_iter()
                        .find(|e| e.primary && e.verified)
                        .map(|e| e.email);
                }
                Err(AuthError::ProviderError(reason)) => {
                    tracing::warn!(provider = %self.name, %reason, "GitHub emails not available");
                }
                Err(other) => return Err(other),
            }
        }
        let verified = email.is_some();
        let mut profile = self.profile(
            user.id.to_string(),
            Some(user.login),
            user.name,
            email,
            verified,
        );
        profile.avatar_url = user.avatar_url.filter(|u| !u.is_empty());
        profile.profile_url = user.html_url.filter(|u| !u.is_empty());
        Ok(profile)
    }

    async fn discord_profile(
        &self,
        endpoints: &Endpoints,
        token: &str,
    ) -> Result<Profile, AuthError> {
        #[derive(Deserialize)]
        struct User {
            id: String,
            username: String,
            global_name: Option<String>,
            avatar: Option<String>,
            email: Option<String>,
            verified: Option<bool>,
        }
        let user: User = self
            .http
            .get_json(&endpoints.userinfo_url, token, "Discord user")
            .await?;
        let avatar_url = user.avatar.filter(|a| !a.is_empty()).map(|hash| {
            format!(
                "https://cdn.discordapp.com/avatars/{}/{}.png",
                user.id, hash
            )
        });
        let profile_url = format!("https://discord.com/users/{}", user.id);
        let mut profile = self.profile(
            user.id,
            Some(user.username),
            user.global_name,
            user.email,
            user.verified == Some(true),
        );
        profile.avatar_url = avatar_url;
        profile.profile_url = Some(profile_url);
        Ok(profile)
    }

    async fn facebook_profile(
        &self,
        endpoints: &Endpoints,
        token: &str,
    ) -> Result<Profile, AuthError> {
        #[derive(Deserialize)]
        struct User {
            id: String,
            name: Option<String>,
            email: Option<String>,
            picture: Option<Picture>,
        }
        #[derive(Deserialize)]
        struct Picture {
            data: Option<PictureData>,
        }
        #[derive(Deserialize)]
        struct PictureData {
            url: Option<String>,
        }
        let url = with_query_default(&endpoints.userinfo_url, "fields", "id,name,email,picture");
        let user: User = self.http.get_json(&url, token, "Facebook user").await?;
        let avatar_url = user
            .picture
            .and_then(|p| p.data)
            .and_then(|d| d.url)
            .filter(|u| !u.is_empty());
        // Facebook only hands out confirmed addresses.
        let mut profile = self.profile(user.id, None, user.name, user.email, true);
        profile.avatar_url = avatar_url;
        Ok(profile)
    }

    async fn twitter_profile(
        &self,
        endpoints: &Endpoints,
        token: &str,
    ) -> Result<Profile, AuthError> {
        #[derive(Deserialize)]
        struct Envelope {
            data: User,
        }
        #[derive(Deserialize)]
        struct User {
            id: String,
            username: String,
            name: Option<String>,
            profile_image_url: Option<String>,
        }
        let url = with_query_default(
            &endpoints.userinfo_url,
            "user.fields",
            "profile_image_url,name,username",
        );
        let Envelope { data: user } = self.http.get_json(&url, token, "X user").await?;
        let profile_url = format!("https://x.com/{}", user.username);
        let mut profile = self.profile(user.id, Some(user.username), user.name, None, false);
        profile.avatar_url = user.profile_image_url.filter(|u| !u.is_empty());
        profile.profile_url = Some(profile_url);
        Ok(profile)
    }
}

/// Adds `key=value` to `url` unless the query already has `key`.
fn with_query_default(url: &str, key: &str, value: &str) -> String {
    match oauth2::url::Url::parse(url) {
        Ok(mut parsed) => {
            if !parsed.query_pairs().any(|(k, _)| k == key) {
                parsed.query_pairs_mut().append_pair(key, value);
            }
            parsed.to_string()
        }
        Err(_) => url.to_owned(),
    }
}
