//! When a call moves between mesh and the SFU.
//!
//! A pure decision: given the room's preference, how many are in the call,
//! the current mode and how long the call has been back within the mesh
//! limit, say which mode it should use and when to ask again. Going up to the
//! SFU is immediate; coming back down waits for the hysteresis, so a page
//! reload does not make the whole call switch twice.

use std::time::Duration;

use mesh_proto::{CallTopology, TopologyMode};

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Largest call that stays peer-to-peer.
    pub mesh_limit: usize,
    /// How long a call must stay within the limit before it returns to mesh.
    pub hysteresis: Duration,
    /// Whether the SFU is running at all.
    pub sfu_available: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub mode: TopologyMode,
    /// Decide again after this long (the hysteresis is running).
    pub recheck_after: Option<Duration>,
}

impl Decision {
    fn settled(mode: TopologyMode) -> Self {
        Decision {
            mode,
            recheck_after: None,
        }
    }
}

/// `within_limit_for` is how long the call has had at most `mesh_limit`
/// participants while on the SFU (`None` if it has not).
pub fn decide(
    policy: &Policy,
    preference: CallTopology,
    participants: usize,
    current: TopologyMode,
    within_limit_for: Option<Duration>,
) -> Decision {
    if !policy.sfu_available {
        return Decision::settled(TopologyMode::Mesh);
    }
    match preference {
        CallTopology::Mesh => Decision::settled(TopologyMode::Mesh),
        CallTopology::Sfu => Decision::settled(TopologyMode::Sfu),
        CallTopology::Auto if participants > policy.mesh_limit => {
            Decision::settled(TopologyMode::Sfu)
        }
        CallTopology::Auto if current == TopologyMode::Mesh => {
            Decision::settled(TopologyMode::Mesh)
        }
        CallTopology::Auto => {
            let waited = within_limit_for.unwrap_or_default();
            if waited >= policy.hysteresis {
                Decision::settled(TopologyMode::Mesh)
            } else {
                Decision {
                    mode: TopologyMode::Sfu,
                    recheck_after: Some(policy.hysteresis - waited),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        mesh_limit: 4,
        hysteresis: Duration::from_secs(5),
        sfu_available: true,
    };
    use TopologyMode::{Mesh, Sfu};

    #[test]
    fn switches_to_sfu_when_the_fifth_participant_joins() {
        assert_eq!(
            decide(&POLICY, CallTopology::Auto, 4, Mesh, None).mode,
            Mesh
        );
        assert_eq!(
            decide(&POLICY, CallTopology::Auto, 5, Mesh, None),
            Decision::settled(Sfu)
        );
    }

    #[test]
    fn returns_to_mesh_only_after_the_hysteresis() {
        let just_shrunk = decide(&POLICY, CallTopology::Auto, 4, Sfu, None);
        assert_eq!(
            just_shrunk,
            Decision {
                mode: Sfu,
                recheck_after: Some(Duration::from_secs(5))
            }
        );
        let later = decide(
            &POLICY,
            CallTopology::Auto,
            4,
            Sfu,
            Some(Duration::from_secs(3)),
        );
        assert_eq!(
            later,
            Decision {
                mode: Sfu,
                recheck_after: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(
            decide(
                &POLICY,
                CallTopology::Auto,
                3,
                Sfu,
                Some(Duration::from_secs(5))
            ),
            Decision::settled(Mesh)
        );
    }

    #[test]
    fn the_rooms_preference_wins() {
        assert_eq!(
            decide(&POLICY, CallTopology::Sfu, 2, Mesh, None),
            Decision::settled(Sfu)
        );
        assert_eq!(
            decide(&POLICY, CallTopology::Mesh, 9, Sfu, None),
            Decision::settled(Mesh)
        );
    }

    #[test]
    fn without_an_sfu_everything_is_mesh() {
        let policy = Policy {
            sfu_available: false,
            ..POLICY
        };
        assert_eq!(
            decide(&policy, CallTopology::Sfu, 9, Sfu, None),
            Decision::settled(Mesh)
        );
    }
}
