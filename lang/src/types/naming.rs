//! The names of the Docker objects imm creates. Every name carries the
//! project, so what one project creates or destroys is never another's:
//! image repositories `imm/<project>/<name>` (shared by the project's
//! environments, so that one promoted image serves them all), and
//! containers, networks and volumes `<project>-<env>-<name>`.

/// `[a-z0-9_.-]`, starting with a letter or digit, as Docker allows in
/// object names and repository path components.
pub fn sanitize(text: &str) -> String {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "x".into()
    } else {
        trimmed.to_string()
    }
}

/// `<project>-<env>-<name>`: a container, network or volume of one
/// environment of one project.
pub fn scoped_object(project: &str, environment: &str, name: &str) -> String {
    format!(
        "{}-{}-{}",
        sanitize(project),
        sanitize(environment),
        sanitize(name)
    )
}

/// The object name of a resource whose `name` attribute (`declared`)
/// defaults to the resource's name.
pub fn declared_object(
    project: &str,
    environment: &str,
    declared: Option<&str>,
    resource_name: &str,
) -> String {
    scoped_object(project, environment, declared.unwrap_or(resource_name))
}

/// The object name of one instance of a resource whose object keeps its
/// name for life (a Swarm service: its name is what clients resolve):
/// `<project>-<env>-<name>`, and `-<instance>` (the index or key of an
/// instance of `count` or `for_each`) unless `name` is declared (then it is the
/// declaration's to tell instances apart, e.g. with count.index).
pub fn declared_instance_object(
    project: &str,
    environment: &str,
    declared: Option<&str>,
    resource_name: &str,
    instance: Option<&str>,
) -> String {
    let base = declared_object(project, environment, declared, resource_name);
    match (declared, instance) {
        (None, Some(instance)) => format!("{base}-{}", sanitize(instance)),
        _ => base,
    }
}

/// `imm/<project>/<name>`: the image repository of one project.
pub fn image_repository(project: &str, name: &str) -> String {
    format!("imm/{}/{}", sanitize(project), sanitize(name))
}

/// `imm/<project>/<name>:<first 12 of the fingerprint>`.
pub fn image_tag(project: &str, name: &str, fingerprint: &str) -> String {
    let short = fingerprint.get(..12).unwrap_or(fingerprint);
    format!("{}:{short}", image_repository(project, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_of_count_and_for_each_get_names_of_their_own() {
        fn name(declared: Option<&str>, instance: Option<&str>) -> String {
            declared_instance_object("shop", "prod", declared, "web", instance)
        }
        assert_eq!(name(None, None), "shop-prod-web");
        assert_eq!(name(None, Some("2")), "shop-prod-web-2");
        assert_eq!(name(None, Some("EU West")), "shop-prod-web-eu-west");
        assert_eq!(
            name(Some("front-2"), Some("2")),
            "shop-prod-front-2",
            "a declared name is the declaration's"
        );
    }

    #[test]
    fn names_are_valid_docker_references() {
        assert_eq!(sanitize(".tmpAb C"), "tmpab-c");
        assert_eq!(sanitize("My Web"), "my-web");
        assert_eq!(sanitize("--"), "x");
        assert_eq!(
            image_tag("Shop", "My Web", "0123456789abcdef"),
            "imm/shop/my-web:0123456789ab"
        );
        assert_eq!(scoped_object("shop", "prod", "web"), "shop-prod-web");
    }
}
