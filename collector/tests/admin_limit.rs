//! Failed admin-token attempts are limited per client address, through a real socket: after 10
//! failures in a minute the address gets 429 + Retry-After (even with the right token), other
//! clients behind the same trusted proxy are not affected.

mod common;

use common::{ADMIN, TestServer};
use footfall_collector::config::TrustProxy;

#[tokio::test]
async fn an_address_with_ten_failed_tokens_waits_others_do_not() {
    let env = common::env(common::Backend::DuckDb).unwrap();
    let mut config = common::config(&env.location, "lim", "wk_lim");
    config.trust_proxy = TrustProxy::Hops(1);
    let srv = TestServer::start(config, common::open(&env.location)).await;
    let get = |client_ip: &'static str, token: &'static str| {
        srv.client
            .get(srv.url("/v1/admin/projects"))
            .header("x-forwarded-for", client_ip)
            .bearer_auth(token)
            .send()
    };
    for i in 0..10 {
        assert_eq!(
            get("198.51.100.7", "guess").await.unwrap().status(),
            401,
            "attempt {i}"
        );
    }
    let locked = get("198.51.100.7", ADMIN).await.unwrap();
    assert_eq!(locked.status(), 429, "even the right token waits");
    let retry: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = locked.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    assert_eq!(
        get("198.51.100.8", ADMIN).await.unwrap().status(),
        200,
        "another client"
    );
    // Nine failures, then the right token: allowed (the limit is on failures, not on use).
    for _ in 0..9 {
        assert_eq!(get("198.51.100.9", "guess").await.unwrap().status(), 401);
    }
    assert_eq!(get("198.51.100.9", ADMIN).await.unwrap().status(), 200);
    srv.shutdown().await;
}
