//! Parser unit tests: structure, precedence, splats, heredocs, recovery.

use super::*;

fn parse_ok(text: &str) -> Body {
    let parsed = parse_file(FileId(0), text);
    assert!(
        parsed.diagnostics.is_empty(),
        "unexpected diagnostics: {:#?}",
        parsed.diagnostics
    );
    parsed.body
}

fn expr(text: &str) -> Expr {
    match parse_expression(FileId(0), text) {
        Ok(e) => e,
        Err(d) => panic!("{text}: {d:?}"),
    }
}

#[test]
fn blocks_attributes_and_labels() {
    let body = parse_ok("resource \"docker_image\" \"web\" {\n  name = \"web\"\n  build { context = \"./web\" }\n}\n");
    let block = body.blocks().next().expect("a block");
    assert_eq!(block.kind.name, "resource");
    let labels: Vec<&str> = block.labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(labels, ["docker_image", "web"]);
    assert_eq!(block.body.items.len(), 2);
}

#[test]
fn precedence_follows_the_reference() {
    let e = expr("1 + 2 * 3 == 7 && !false || x ? a : b");
    let ExprKind::Conditional(cond, _, _) = e.kind else {
        panic!("not a conditional")
    };
    let ExprKind::Binary(BinaryOp::Or, lhs, _) = cond.kind else {
        panic!("not ||")
    };
    let ExprKind::Binary(BinaryOp::And, eq, _) = lhs.kind else {
        panic!("not &&")
    };
    let ExprKind::Binary(BinaryOp::Eq, sum, _) = eq.kind else {
        panic!("not ==")
    };
    let ExprKind::Binary(BinaryOp::Add, _, product) = sum.kind else {
        panic!("not +")
    };
    assert!(matches!(
        product.kind,
        ExprKind::Binary(BinaryOp::Mul, _, _)
    ));
}

#[test]
fn splat_applies_following_traversals_to_each_element() {
    let e = expr("docker_container.web[*].id");
    let ExprKind::Splat(source, each) = e.kind else {
        panic!("not a splat")
    };
    assert!(matches!(source.kind, ExprKind::GetAttr(_, _)));
    assert!(matches!(each.kind, ExprKind::GetAttr(_, ref n) if n.name == "id"));
}

#[test]
fn heredoc_strips_common_indent() {
    let body = parse_ok("x = <<-EOT\n    a\n      b\n    EOT\ny = 1\n");
    let attr = body.attribute("x").expect("x");
    assert_eq!(attr.value.as_literal_string(), Some("a\n  b\n"));
}

#[test]
fn reports_every_bad_line() {
    let parsed = parse_file(
        FileId(0),
        "a = \nb = 1\nc = [1,\nd = )\nresource \"x\" \"y\" {\n  e = = 2\n}\n",
    );
    assert!(parsed.diagnostics.len() >= 2, "{:#?}", parsed.diagnostics);
}

#[test]
fn tree_nodes_stay_small() {
    // A large project holds millions of these: size is memory.
    assert!(
        std::mem::size_of::<Expr>() <= 72,
        "Expr is {} bytes",
        std::mem::size_of::<Expr>()
    );
    assert!(
        std::mem::size_of::<TemplatePart>() <= 32,
        "TemplatePart is {} bytes",
        std::mem::size_of::<TemplatePart>()
    );
}

#[test]
fn unary_operators_apply_to_the_whole_traversal() {
    // `-a.b[0]` is `-(a.b[0])`, and `-2` is the number itself.
    let e = expr("-a.b[0] * -2");
    let ExprKind::Binary(BinaryOp::Mul, lhs, rhs) = e.kind else {
        panic!("not *")
    };
    let ExprKind::Unary(UnaryOp::Neg, operand) = lhs.kind else {
        panic!("not -")
    };
    assert!(matches!(operand.kind, ExprKind::Index(_, _)));
    assert_eq!((lhs.span.start, lhs.span.end), (0, 7));
    assert!(matches!(rhs.kind, ExprKind::Number(_)));
    let e = expr("!!x");
    let ExprKind::Unary(UnaryOp::Not, inner) = e.kind else {
        panic!("not !")
    };
    assert!(matches!(inner.kind, ExprKind::Unary(UnaryOp::Not, _)));
}

#[test]
fn heredoc_and_comment_text_keep_lone_sigils() {
    // Text runs are found by searching for `$`, `%` and the line end; a
    // `$` or `%` that opens nothing stays text, and comments end at the
    // line end whatever they hold.
    let body = parse_ok(
        "# costs $5, 50% off ${not read}\nx = <<EOT\n50% of $5 is $${y} %%{z}\nEOT\n/* a ${b} \n */ y = 1 // ${c}\n",
    );
    let x = body.attribute("x").expect("x");
    assert_eq!(
        x.value.as_literal_string(),
        Some("50% of $5 is ${y} %{z}\n")
    );
    assert!(body.attribute("y").is_some());
}
