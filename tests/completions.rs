//! `clawform completions SHELL` prints a completion script that knows the subcommands.

use std::process::Command;

fn completions(shell: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_clawform")).args(["completions", shell]).output().expect("run clawform")
}

#[test]
fn each_shell_gets_a_script_naming_the_subcommands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef clawform"),
        ("fish", "complete -c clawform"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[clawform]"),
    ] {
        let out = completions(shell);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(marker), "{shell}: no `{marker}` in\n{text}");
        for sub in ["plan", "tenant", "drift", "show"] {
            assert!(text.contains(sub), "{shell}: the script does not know `{sub}`");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_choices() {
    let out = completions("cmd.exe");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bash") && err.contains("zsh"), "{err}");
}
