//! Files and folders from one device to another over an open session:
//! [`send`] on the requester, [`receive`] on the target, with the
//! [`Policy`] deciding whether an offer is accepted.
//!
//! The exchange, on the session's first stream unless said otherwise:
//!
//! 1. sender → `Offer` (signed manifest);
//! 2. receiver checks the signature and every entry, asks its person (or its
//!    auto-accept list), checks free space, and answers `Accept` with the
//!    chunks it already holds from an interrupted attempt — or closes the
//!    connection with `DECLINED`;
//! 3. for each file still needed, the sender opens a unidirectional stream:
//!    `File` header, the chunk hash list, then the chunks from where the
//!    receiver stands;
//! 4. the receiver verifies the list against the signed root and every chunk
//!    against the list before writing it, into a staging folder beside the
//!    destination; when all is verified it moves the tree into place and
//!    answers `Done`.
//!
//! An interrupted transfer leaves the staging folder (verified chunks only)
//! for the next attempt of the same manifest; a refused one (bad entries,
//! failed verification, a peer that lies about sizes) removes it. Nothing
//! ever appears at the destination until the whole tree has verified.

mod disk;
pub mod receive;
pub mod send;

use mesh_proto::Device;

/// Who is trusted to send without asking, and whether to ask otherwise.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Usernames whose files are accepted without asking; `*` accepts anyone
    /// the server lets open a session (people sharing a room).
    pub accept_from: Vec<String>,
    /// Ask on the terminal for everyone else (when there is one).
    pub ask: bool,
}

impl Policy {
    pub async fn decide(&self, from: &Device, summary: &str) -> bool {
        if self
            .accept_from
            .iter()
            .any(|name| name == "*" || name.eq_ignore_ascii_case(&from.username))
        {
            return true;
        }
        if !self.ask || !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return false;
        }
        let question = format!(
            "{} ({}) wants to send you {summary}. Accept? [y/N] ",
            from.username, from.name
        );
        tokio::task::spawn_blocking(move || {
            eprint!("{question}");
            let mut answer = String::new();
            std::io::stdin().read_line(&mut answer).is_ok()
                && matches!(answer.trim(), "y" | "Y" | "yes")
        })
        .await
        .unwrap_or(false)
    }
}
