//! The expression table in `tests/fixtures/expressions.txt`: every
//! operator and built-in function against Terraform's results. The
//! expected side is an expression too, so results compare by value.

use imm_stdlib::Value;
use std::path::Path;

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

enum Expected {
    Value(Value),
    Error(String),
}

fn eval(text: &str) -> Result<Value, (String, String)> {
    imm_lang::eval_standalone(text, &fixtures().join("files"))
        .map_err(|d| (d.code.as_str().to_string(), d.message))
}

#[test]
fn expression_table_matches_terraform() {
    let table =
        std::fs::read_to_string(fixtures().join("expressions.txt")).expect("read the table");
    let mut failures = Vec::new();
    let mut cases = 0;
    for (n, line) in table.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((input, expected)) = line.rsplit_once(" => ") else {
            failures.push(format!("line {}: no ` => ` in {line:?}", n + 1));
            continue;
        };
        cases += 1;
        let (input, expected) = (input.trim(), expected.trim());
        let expected = match expected.strip_prefix("error ") {
            Some(code) => Expected::Error(code.trim().to_string()),
            None => match eval(expected) {
                Ok(v) => Expected::Value(v),
                Err(e) => {
                    failures.push(format!(
                        "line {}: the expected side {expected:?} fails: {e:?}",
                        n + 1
                    ));
                    continue;
                }
            },
        };
        let actual = eval(input);
        match (&expected, &actual) {
            (Expected::Value(want), Ok(got)) if want == got => {}
            (Expected::Error(code), Err((got, _))) if code == got => {}
            (Expected::Value(want), _) => failures.push(format!(
                "line {}: {input}\n    want {}\n    got  {:?}",
                n + 1,
                want.to_literal(),
                actual.map(|v| v.to_literal())
            )),
            (Expected::Error(code), _) => failures.push(format!(
                "line {}: {input}\n    want error {code}\n    got  {:?}",
                n + 1,
                actual.map(|v| v.to_literal())
            )),
        }
    }
    assert!(
        cases > 200,
        "the table should hold every function and operator, found {cases} cases"
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_builtin_function_is_in_the_table() {
    let table =
        std::fs::read_to_string(fixtures().join("expressions.txt")).expect("read the table");
    let missing: Vec<&str> = imm_stdlib::FUNCTIONS
        .iter()
        .map(|f| f.name)
        .filter(|name| !table.contains(&format!("{name}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "functions without a case in expressions.txt: {missing:?}"
    );
}
