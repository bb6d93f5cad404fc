//! Tags resolved to digests through a real registry's HTTP API (Debian's
//! `docker-registry` on loopback, images pushed by `docker push`): what a
//! plan pins an off-the-shelf image to.

mod common;
#[path = "support/docker.rs"]
mod docker;
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/registry.rs"]
mod registry;

use imm_executors::registry::{ImageRef, RegistryClient};
use imm_lang::diagnostics::Code;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

#[test]
fn a_tag_resolves_to_the_digest_docker_pushed_and_follows_it_when_moved() {
    docker::require_docker();
    let registry = registry::Registry::start();
    let first = registry.push("team/app", "1", docker::versioned_context("one").path());
    let client = RegistryClient::new(Vec::new());
    let image = ImageRef::parse(&format!("{}/team/app:1", registry.address)).expect("name");
    assert_eq!(block_on(client.resolve(&image, None)), Ok(first.clone()));

    let second = registry.push("team/app", "1", docker::versioned_context("two").path());
    assert_ne!(first, second, "a new build is another digest");
    assert_eq!(
        block_on(client.resolve(&image, None)),
        Ok(second.clone()),
        "the tag moved"
    );
    assert_eq!(
        block_on(client.has_digest(&image, &first, None)),
        Ok(true),
        "the old digest is still there"
    );
    registry.delete("team/app", &first);
    assert_eq!(block_on(client.has_digest(&image, &first, None)), Ok(false));
}

#[test]
fn an_unknown_tag_or_a_registry_that_does_not_answer_is_a_clear_error() {
    docker::require_docker();
    let registry = registry::Registry::start();
    registry.push("team/app", "1", docker::versioned_context("one").path());
    let client = RegistryClient::new(Vec::new());
    let missing = ImageRef::parse(&format!("{}/team/app:9.9", registry.address)).expect("name");
    let e = block_on(client.resolve(&missing, None)).expect_err("no such tag");
    assert_eq!(e.code, Code::ImageNotInRegistry);
    assert!(
        e.message.contains("has no image") && e.message.contains("team/app:9.9"),
        "{e:?}"
    );
    assert!(e.help_text().contains("imm lock --upgrade"), "{e:?}");

    // On 127.0.0.2, where no test's registry listens (they bind
    // 127.0.0.1): a port another test takes meanwhile cannot answer.
    let port = etcd::free_port();
    let nobody = ImageRef::parse(&format!("127.0.0.2:{port}/team/app:1")).expect("name");
    let e = block_on(client.resolve(&nobody, None)).expect_err("nothing listens");
    assert_eq!(e.code, Code::PullFailed);
    assert!(e.message.contains("cannot be reached"), "{e:?}");
    assert!(e.help_text().contains("start the registry"), "{e:?}");
}

#[test]
fn a_registry_that_asks_for_a_password_answers_only_with_the_credentials() {
    docker::require_docker();
    let registry = registry::Registry::start_with_user("deployer", "s3cret");
    let pushed = registry.push("team/app", "1", docker::versioned_context("one").path());
    let client = RegistryClient::new(Vec::new());
    let image = ImageRef::parse(&format!("{}/team/app:1", registry.address)).expect("name");
    let e = block_on(client.resolve(&image, None)).expect_err("anonymous");
    assert_eq!(e.code, Code::PermissionDenied, "{e:?}");
    let credentials = imm_executors::registry::Credentials {
        username: "deployer".into(),
        password: "s3cret".into(),
    };
    assert_eq!(
        block_on(client.resolve(&image, Some(&credentials))),
        Ok(pushed)
    );
    assert!(
        !format!("{credentials:?}").contains("s3cret"),
        "credentials print without the password"
    );
}
