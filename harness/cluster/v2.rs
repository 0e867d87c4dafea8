//! The v2 HTTP API (`/v2/keys`), which the 3.3→3.4 upgrade guide's v2 data lives in: 3.4+ serve
//! it only with `--enable-v2=true`.

use serde::Deserialize;

use super::error::ClusterError;
use super::member::Member;

impl Member {
    pub async fn v2_set(&self, key: &str, value: &str) -> Result<(), ClusterError> {
        let url = format!(
            "{}/v2/keys/{}",
            self.client_url,
            key.trim_start_matches('/')
        );
        let err = |m: String| ClusterError::Request {
            member: self.name.clone(),
            op: "v2 set".into(),
            message: m,
        };
        let resp = self
            .http
            .put(&url)
            .form(&[("value", value)])
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(err(format!(
                "HTTP {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default().trim()
            )))
        }
    }

    /// The value of a v2 key; `None` if absent.
    pub async fn v2_get(&self, key: &str) -> Result<Option<String>, ClusterError> {
        #[derive(Deserialize)]
        struct Node {
            value: Option<String>,
        }
        #[derive(Deserialize)]
        struct Resp {
            node: Option<Node>,
        }
        let url = format!(
            "{}/v2/keys/{}?quorum=true",
            self.client_url,
            key.trim_start_matches('/')
        );
        let err = |m: String| ClusterError::Request {
            member: self.name.clone(),
            op: "v2 get".into(),
            message: m,
        };
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            let body = resp.text().await.unwrap_or_default();
            // 404 with errorCode 100 (EcodeKeyNotFound, v2 `error/error.go`) is "key not
            // found"; any other 404 is the API being off.
            #[derive(Deserialize)]
            struct V2Error {
                #[serde(rename = "errorCode")]
                error_code: u32,
            }
            let code = serde_json::from_str::<V2Error>(&body).map(|e| e.error_code);
            return if code.ok() == Some(100) {
                Ok(None)
            } else {
                Err(err(format!("HTTP 404: {}", body.trim())))
            };
        }
        let body = resp.text().await.map_err(|e| err(e.to_string()))?;
        let r: Resp = serde_json::from_str(&body)
            .map_err(|_| err(format!("HTTP {status}: {}", body.trim())))?;
        Ok(r.node.and_then(|n| n.value))
    }
}
