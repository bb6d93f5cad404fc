//! A state as an apply would record it, without a daemon: every instance
//! of a project recorded with made-up object ids (an image id derived from
//! its fingerprint, so a rebuilt image gets a new one), evaluating again as
//! out attributes become known, as the apply engine does. Shared by the
//! planner tests and the planner benchmark.

use imm_lang::evaluate::{self, Inputs, Instance, Mode};
use imm_planner::plan;
use imm_planner::state::State;
use imm_planner::stored::FingerprintKey;
use imm_stdlib::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub fn record_applied(
    dir: &Path,
    environment: &str,
    inputs: &Inputs,
    key: &FingerprintKey,
) -> State {
    let mut project = imm_lang::project::load(dir);
    assert!(project.diagnostics.is_empty(), "{:?}", project.diagnostics);
    let mut state = State::new(environment);
    state.lineage = "00000000-test-lineage".into();
    let mut known: HashMap<String, BTreeMap<String, Value>> = HashMap::new();
    let mut contexts = plan::ContextCache::new();
    loop {
        let mut inputs = inputs.clone();
        inputs.known_outs = known.clone();
        let (evaluated, diags) = evaluate::evaluate(&mut project, environment, &inputs, Mode::Plan);
        assert!(diags.is_empty(), "{diags:?}");
        let mut progressed = false;
        for instance in &evaluated.instances {
            if known.contains_key(&instance.address)
                || instance.config.values().any(Value::contains_unknown)
            {
                continue;
            }
            let fingerprint = imm_lang::types::is_artifact(&instance.type_name)
                .then(|| {
                    plan::fingerprint_of(instance, &instance.config, key, &mut contexts)
                        .expect("fingerprint")
                })
                .flatten();
            let outs = made_up_outs(&project.name(), instance, fingerprint.as_deref());
            known.insert(
                instance.address.clone(),
                outs.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            );
            state.put_resource(imm_planner::stored::new_record(
                instance,
                key,
                fingerprint,
                Vec::new(),
                outs,
                serde_json::Value::Null,
            ));
            progressed = true;
        }
        if !progressed {
            assert_eq!(
                known.len(),
                evaluated.instances.len(),
                "every instance gets applied"
            );
            state.serial = 1;
            return state;
        }
    }
}

/// What an executor would return: what the type predicts (an image's
/// tag, a file's checksum), and ids derived from the address and the
/// fingerprint.
fn made_up_outs(
    project: &str,
    instance: &Instance,
    fingerprint: Option<&str>,
) -> serde_json::Map<String, serde_json::Value> {
    let resource_type = imm_lang::types::get(&instance.type_name).expect("a known type");
    let predicted = (resource_type.predict_outs)(&imm_lang::types::Prediction {
        project,
        resource_name: &instance.name,
        config: &instance.config,
        fingerprint,
    });
    let mut outs: serde_json::Map<String, serde_json::Value> = predicted
        .iter()
        .map(|(k, v)| (k.clone(), v.to_redacted_json()))
        .collect();
    let id = format!("{}:{}", instance.address, fingerprint.unwrap_or("-"));
    match instance.type_name.as_str() {
        "docker_image" => {
            let fp = fingerprint.expect("image fingerprint");
            outs.insert("id".into(), format!("sha256:{}", &fp[..16]).into());
        }
        "docker_network" | "docker_volume" => {
            outs.insert("id".into(), id.into());
            outs.insert(
                "name".into(),
                format!("proj-default-{}", instance.name).into(),
            );
        }
        "docker_container" => {
            outs.insert("id".into(), id.into());
            outs.insert("name".into(), instance.address.clone().into());
        }
        "config" => {
            outs.insert("revision".into(), 1.into());
        }
        _ => {}
    }
    outs
}
