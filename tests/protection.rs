//! The protection rules against `fixtures/protection.json`, the verdicts that the refresh worker
//! is held to as well (`tests/worker/`): the same URLs are protected in the signer and in the
//! browser.

use rendorix::core::rules::Protection;
use rendorix::core::urls::MatchPrefix;
use rendorix::site::refresh::Worker;
use serde_json::Value;
use url::Url;

fn prefixes(list: &Value, base: &Url) -> Vec<MatchPrefix> {
    (list.as_array().unwrap().iter())
        .map(|p| MatchPrefix::parse(p.as_str().unwrap(), base).unwrap())
        .collect()
}

#[test]
fn the_rules_and_the_worker_give_the_verdicts_of_the_shared_cases() {
    let fixture: Value = serde_json::from_str(include_str!("../fixtures/protection.json")).unwrap();
    let mut cases = 0;
    for set in fixture["sets"].as_array().unwrap() {
        let config = &set["config"];
        let base = Url::parse(config["base_url"].as_str().unwrap()).unwrap();
        let extensions: Vec<&str> = (config["extensions"].as_array().unwrap().iter())
            .map(|e| e.as_str().unwrap())
            .collect();
        let rules = Protection::new(
            prefixes(&config["match"], &base),
            prefixes(&config["exclude"], &base),
            &extensions,
        );
        // The worker carries exactly these rules.
        let worker = Worker::new(&rules, &base);
        let built: Value = serde_json::from_str(&worker.rules).unwrap();
        assert_eq!(built, set["worker"], "{base}");
        for case in set["cases"].as_array().unwrap() {
            let url = case[0].as_str().unwrap();
            // "served": on the host the site is served from, which only the worker knows.
            let expected = case[1].as_bool().unwrap_or(false);
            assert_eq!(rules.protects(&Url::parse(url).unwrap()), expected, "{url}");
            cases += 1;
        }
    }
    assert!(cases > 30, "{cases}");
}
