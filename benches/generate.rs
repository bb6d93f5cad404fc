//! Generates the benchmark project: `artifacts` docker images, each used by
//! `per_artifact` containers (a layered DAG), spread over files of 100
//! resources, with variables, locals and environments. Shared by the
//! benches; `scripts/bench-frontend.sh` writes the same shape.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;

/// How much each generated resource says.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Two or three attributes per resource, as generated benchmarks of
    /// Terraform usually are (about 100 bytes a resource).
    Compact,
    /// Containers with a network, run-time env, health check and command,
    /// as this tool's users write them (about 400 bytes a resource).
    Rich,
    /// Files rendered from heredoc templates with interpolations, `for`
    /// and `if` directives and strip markers (about 450 bytes a resource).
    Templates,
}

pub fn write_project(dir: &Path, artifacts: usize, per_artifact: usize, shape: Shape) {
    std::fs::create_dir_all(dir).expect("create project dir");
    let header = r#"variable "log_level" {
  type    = string
  default = "info"
}

environment "staging" {
  region = "eu-west"
}

environment "prod" {
  region = "eu-central"
  vars   = { log_level = "warn" }
}

locals {
  common_env = { REGION = env.region, LOG_LEVEL = var.log_level }
}

resource "docker_network" "backend" {
  name = "backend"
}
"#;
    std::fs::write(dir.join("main.imm"), header).expect("write main.imm");
    // The build context every image shares: it is hashed once per run.
    std::fs::create_dir_all(dir.join("app")).expect("create app/");
    std::fs::write(dir.join("app/Dockerfile"), "FROM scratch\nCOPY . /app\n").expect("write");
    std::fs::write(dir.join("app/index.html"), "<h1>app</h1>\n").expect("write");
    let mut file = String::new();
    let mut in_file = 0;
    let mut file_no = 0;
    for i in 0..artifacts {
        if shape != Shape::Rich {
            let _ = write!(
                file,
                "resource \"docker_image\" \"app_{i}\" {{\n  build {{\n    context = \"./app\"\n    args    = {{ VERSION = \"1.{i}.0\" }}\n  }}\n}}\n\n"
            );
        } else {
            let _ = write!(
                file,
                r#"resource "docker_image" "app_{i}" {{
  name = "app-{i}"
  build {{
    context = "./app"
    args    = {{ VERSION = "1.{i}.0", COMPONENT = "app-{i}" }}
  }}
  test {{
    command = ["/bin/app", "--self-test"]
  }}
}}

"#
            );
        }
        for j in 0..per_artifact {
            if shape == Shape::Templates {
                file.push_str(&template_file(i, j));
                continue;
            }
            if shape == Shape::Compact {
                let _ = write!(
                    file,
                    "resource \"docker_container\" \"app_{i}_{j}\" {{\n  image = docker_image.app_{i}.id\n  name  = \"app-{i}-{j}\"\n}}\n\n"
                );
                continue;
            }
            let _ = write!(
                file,
                r#"resource "docker_container" "app_{i}_{j}" {{
  image   = docker_image.app_{i}.id
  name    = "app-{i}-{j}"
  command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  network {{
    name    = docker_network.backend.name
    aliases = ["app-{i}"]
  }}
  runtime {{
    env = merge(local.common_env, {{ INDEX = "{j}" }})
  }}
  health {{
    command  = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
    interval = "1s"
    retries  = 30
  }}
}}

"#
            );
        }
        in_file += 1 + per_artifact;
        if in_file >= 100 {
            std::fs::write(dir.join(format!("part_{file_no:04}.imm")), &file).expect("write part");
            file.clear();
            in_file = 0;
            file_no += 1;
        }
    }
    if !file.is_empty() {
        std::fs::write(dir.join(format!("part_{file_no:04}.imm")), &file).expect("write part");
    }
}

/// A `file` resource whose content is a heredoc template.
fn template_file(i: usize, j: usize) -> String {
    let body = r#"resource "file" "conf_I_J" {
  path    = "out/app-I-J.conf"
  content = <<-EOT
    # app I-J, rendered for ${env.name}
    listen = ${8000 + J}
    region = "${env.region}"
    level  = "${upper(var.log_level)}"
    %{ for k, v in local.common_env ~}
    env.${lower(k)} = "${v}"
    %{ endfor ~}
    %{ if J > 4 }replica = true%{ else }replica = false%{ endif }
    upstreams = [${join(", ", [for n in range(3) : "\"10.0.I.${n}\""])}]
  EOT
}

"#;
    body.replace('I', &i.to_string())
        .replace('J', &j.to_string())
}
