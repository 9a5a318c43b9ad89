//! The web client's TypeScript types are generated from this crate. This test
//! fails when `web/src/proto/index.ts` no longer matches the Rust types; run
//! `make proto` to regenerate it.

use std::path::PathBuf;

#[test]
fn generated_typescript_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/src/proto/index.ts");
    let expected = mesh_proto::typescript_declarations();
    if std::env::var_os("MESH_UPDATE_PROTO").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is stale: run `make proto` and commit the result",
        path.display()
    );
}
