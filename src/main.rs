//! The `runpod-ssh` binary: flags in, exit code out.

use runpod_ssh::commands::{self, Outcome};

fn main() {
    // A shell asking for completions (RUNPOD_SSH_COMPLETE set) is answered
    // here and the process exits; otherwise this returns at once.
    runpod_ssh::completion::complete_if_asked();
    let cli = runpod_ssh::cli::parse();
    let code = match commands::run(cli) {
        Ok(Outcome::Ok) => 0,
        Ok(Outcome::Problems) => 1,
        Err(e) => {
            let msg = commands::render(&e);
            runpod_ssh::output::err(&format!("runpod-ssh: {msg}\n"));
            commands::exit_code(&e)
        }
    };
    std::process::exit(code);
}
