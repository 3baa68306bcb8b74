//! A client of the console API, as a browser's script or a user's tool would call it:
//! shared by the console and security tests.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::TestNetwork;
use tests::uplink_core::transport::Transport;

/// A console client with an optional session token.
pub struct Console {
    http: reqwest::Client,
    base: String,
    pub token: Option<String>,
}

impl Console {
    pub fn new(net: &TestNetwork) -> Self {
        Self {
            http: net.http(),
            base: format!("{}/api/v0", net.console_url()),
            token: None,
        }
    }

    /// A client whose requests come from `ip` (any 127.0.0.0/8 address works on loopback).
    pub fn from_address(net: &TestNetwork, ip: [u8; 4]) -> Self {
        Self {
            http: Transport::bound_to(net.mode(), std::net::IpAddr::from(ip))
                .unwrap()
                .http()
                .clone(),
            ..Self::new(net)
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            token: Some(token.to_string()),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("console reachable");
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Signs up and returns a client logged in as the new user.
    pub async fn signup(&self, email: &str, password: &str) -> Console {
        let (status, body) = self
            .post(
                "/auth/signup",
                json!({"email": email, "password": password, "full_name": "Test User"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.with_token(body["token"].as_str().unwrap())
    }

    pub async fn project(&self, name: &str) -> String {
        let (status, body) = self.post("/projects", json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Signs up with a fixed password; the logged-in client and the new user's id.
    pub async fn signup_with_id(&self, email: &str) -> (Console, String) {
        let (status, body) = self
            .post(
                "/auth/signup",
                json!({"email": email, "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            self.with_token(body["token"].as_str().unwrap()),
            body["user"]["id"].as_str().unwrap().to_string(),
        )
    }

    pub async fn create_key(&self, project: &str, name: &str) -> (String, String) {
        let (status, body) = self
            .post(
                &format!("/projects/{project}/api-keys"),
                json!({ "name": name }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["id"].as_str().unwrap().to_string(),
            body["api_key"].as_str().unwrap().to_string(),
        )
    }

    /// The project's keys by name, with their creators' emails (`None`: no creator).
    pub async fn keys(&self, project: &str) -> Vec<(String, Option<String>)> {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/projects/{project}/api-keys?limit=100"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut keys: Vec<(String, Option<String>)> = body["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["name"].as_str().unwrap().to_string(),
                    k["created_by"]["email"].as_str().map(str::to_string),
                )
            })
            .collect();
        keys.sort();
        keys
    }
}

pub fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}
