//! `imm graph`: edges per instance from references, through locals, from
//! `depends_on`, from module arguments and to module outputs.

mod common;
use common::Project;

const MAIN: &str = r#"
resource "docker_network" "net" {
  name = "net"
}

resource "docker_image" "web" {
  build {
    context = "."
  }
}

locals {
  image = docker_image.web.id
}

resource "docker_container" "web" {
  count = 2
  image = local.image
  network {
    name = docker_network.net.name
  }
}

resource "file" "list" {
  path       = "out.txt"
  content    = join(",", docker_container.web[*].name)
  depends_on = [docker_network.net]
}

module "api" {
  source  = "./api"
  network = docker_network.net.name
}

resource "file" "api_url" {
  path    = "api.txt"
  content = module.api.url
}
"#;

const API: &str = r#"
variable "network" {
  type = string
}

resource "docker_image" "api" {
  build {
    context = "."
  }
}

output "url" {
  value = "http://api:${docker_image.api.id}"
}
"#;

#[test]
fn dot_graph_has_an_edge_per_instance_dependency() {
    let p = Project::new(&[("main.imm", MAIN), ("api/main.imm", API)]);
    let run = p.imm(&["graph", "."]);
    run.assert_ok();
    let dot = &run.stdout;
    assert!(dot.starts_with("digraph imm {"), "{dot}");
    for edge in [
        "\"docker_container.web[0]\" -> \"docker_image.web\"",
        "\"docker_container.web[1]\" -> \"docker_image.web\"",
        "\"docker_container.web[1]\" -> \"docker_network.net\"",
        "\"file.list\" -> \"docker_container.web[0]\"",
        "\"file.list\" -> \"docker_network.net\"",
        "\"module.api.docker_image.api\" -> \"docker_network.net\"",
        "\"file.api_url\" -> \"module.api.docker_image.api\"",
    ] {
        assert!(dot.contains(edge), "missing {edge} in\n{dot}");
    }
    assert!(
        !dot.contains("\"docker_image.web\" ->"),
        "the image depends on nothing:\n{dot}"
    );
    assert_eq!(dot.matches(" -> ").count(), 9, "{dot}");
}

#[test]
fn mermaid_graph_for_markdown() {
    let p = Project::new(&[("main.imm", MAIN), ("api/main.imm", API)]);
    let run = p.imm(&["graph", ".", "--format", "mermaid"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("flowchart RL"), "{}", run.stdout);
    assert_eq!(run.stdout.matches(" --> ").count(), 9, "{}", run.stdout);
    assert!(run.stdout.contains("[\"docker_container.web[0]\"]"));
}

#[test]
fn graph_of_an_invalid_project_fails_with_diagnostics() {
    let p = Project::new(&[(
        "main.imm",
        "resource \"file\" \"f\" {\n  path = var.nope\n  content = \"\"\n}\n",
    )]);
    p.imm(&["graph", "."]).assert_fails_with("E0201");
}
