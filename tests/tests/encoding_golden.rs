//! The encoded bytes of one instance of every command, pinned: a change of the file format is a visible diff.
use accel_ops::command::{examples, OPCODES};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn every_command_encoding_is_pinned() {
    let mut text = String::new();
    for cmd in examples() {
        let mut bytes = Vec::new();
        cmd.encode(&mut bytes);
        text.push_str(&format!("{} ({} bytes)\n  {}\n", cmd.mnemonic(), bytes.len(), hex(&bytes)));
    }
    assert_eq!(examples().len(), OPCODES.len());
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("command_encodings", text);
    });
}
