//! What evaluation hands to the planner: instances expanded by `count` and
//! `for_each` with their addresses and configurations, module prefixes,
//! dependencies, and out attributes that stay unknown until apply.

mod common;
use common::Project;
use imm_lang::evaluate::{self, Inputs, InstanceKey, Mode};
use imm_stdlib::{Type, Value};

fn evaluate(p: &Project, env: &str) -> evaluate::Evaluated {
    let mut project = imm_lang::project::load(p.path());
    assert!(project.diagnostics.is_empty(), "{:?}", project.diagnostics);
    let (evaluated, diags) = evaluate::evaluate(&mut project, env, &Inputs::default(), Mode::Plan);
    assert!(diags.is_empty(), "{diags:?}");
    evaluated
}

const PROJECT: &str = r#"
variable "names" {
  type    = set(string)
  default = ["b", "a"]
}

resource "file" "numbered" {
  count   = 3
  path    = "out/${count.index}.txt"
  content = "n${count.index}"
}

resource "file" "named" {
  for_each = var.names
  path     = "out/${each.key}.txt"
  content  = upper(each.value)
}

resource "file" "by_map" {
  for_each = { x = 1, y = 2 }
  path     = "out/map-${each.key}.txt"
  content  = tostring(each.value * 10)
}

resource "exec" "uses" {
  create     = ["echo", file.numbered[1].path, file.named["a"].content]
  depends_on = [file.by_map]
  build {
    inputs = { sum = file.numbered[0].sha256 }
  }
}

module "child" {
  source = "./child"
  prefix = "c"
}

output "paths" {
  value = file.numbered[*].path
}

output "unknown_until_apply" {
  value = file.numbered[0].sha256
}

output "child_path" {
  value = module.child.path
}
"#;

const CHILD: &str = r#"
variable "prefix" {
  type = string
}

resource "file" "inner" {
  path    = "${var.prefix}.txt"
  content = "inner"
}

output "path" {
  value = file.inner.path
}
"#;

#[test]
fn instances_are_expanded_with_addresses_and_configuration() {
    let p = Project::new(&[("main.imm", PROJECT), ("child/main.imm", CHILD)]);
    let evaluated = evaluate(&p, "default");
    let addresses: Vec<&str> = evaluated
        .instances
        .iter()
        .map(|i| i.address.as_str())
        .collect();
    for expected in [
        "file.numbered[0]",
        "file.numbered[1]",
        "file.numbered[2]",
        "file.named[\"a\"]",
        "file.named[\"b\"]",
        "file.by_map[\"x\"]",
        "file.by_map[\"y\"]",
        "exec.uses",
        "module.child.file.inner",
    ] {
        assert!(
            addresses.contains(&expected),
            "{expected} missing from {addresses:?}"
        );
    }
    assert_eq!(addresses.len(), 9);
    let find = |a: &str| {
        evaluated
            .instances
            .iter()
            .find(|i| i.address == a)
            .expect("instance")
    };
    let numbered = find("file.numbered[2]");
    assert_eq!(numbered.key, Some(InstanceKey::Index(2)));
    assert_eq!(
        numbered.config.get("path"),
        Some(&Value::string("out/2.txt"))
    );
    assert_eq!(
        find("file.named[\"b\"]").config.get("content"),
        Some(&Value::string("B"))
    );
    assert_eq!(
        find("file.by_map[\"y\"]").config.get("content"),
        Some(&Value::string("20"))
    );
    assert_eq!(
        find("module.child.file.inner").config.get("path"),
        Some(&Value::string("c.txt"))
    );

    let uses = find("exec.uses");
    assert_eq!(
        uses.config.get("create"),
        Some(&Value::List(vec![
            Value::string("echo"),
            Value::string("out/1.txt"),
            Value::string("A")
        ]))
    );
    let build = uses.config.get("build").expect("build block");
    assert!(
        matches!(build, Value::Map(m) if matches!(m.get("inputs"), Some(Value::Map(i)) if matches!(i.get("sum"), Some(Value::Unknown(_)))))
    );
    let mut deps = uses.depends_on.clone();
    deps.sort();
    // The instances it read, one by one; `depends_on` names the whole
    // resource.
    assert_eq!(
        deps,
        [
            "file.by_map",
            "file.named[\"a\"]",
            "file.numbered[0]",
            "file.numbered[1]"
        ]
    );
}

#[test]
fn outputs_see_known_config_and_unknown_outs() {
    let p = Project::new(&[("main.imm", PROJECT), ("child/main.imm", CHILD)]);
    let evaluated = evaluate(&p, "default");
    let paths = &evaluated.outputs["paths"].value;
    assert_eq!(
        paths,
        &Value::List(vec![
            Value::string("out/0.txt"),
            Value::string("out/1.txt"),
            Value::string("out/2.txt")
        ])
    );
    assert_eq!(
        evaluated.outputs["unknown_until_apply"].value,
        Value::Unknown(Type::String)
    );
    assert_eq!(
        evaluated.outputs["child_path"].value,
        Value::string("c.txt")
    );
}

#[test]
fn known_outs_from_state_replace_unknowns() {
    let p = Project::new(&[("main.imm", PROJECT), ("child/main.imm", CHILD)]);
    let mut project = imm_lang::project::load(p.path());
    let mut inputs = Inputs::default();
    let outs = [("sha256".to_string(), Value::string("abc123"))]
        .into_iter()
        .collect();
    inputs.known_outs.insert("file.numbered[0]".into(), outs);
    let (evaluated, diags) = evaluate::evaluate(&mut project, "default", &inputs, Mode::Plan);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        evaluated.outputs["unknown_until_apply"].value,
        Value::string("abc123")
    );
}
