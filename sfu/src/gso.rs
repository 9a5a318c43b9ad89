//! UDP generic segmentation offload (Linux's `UDP_SEGMENT`, 4.18 and later).
//!
//! A run of datagrams to one destination, all of one size except a shorter
//! last one, goes to the kernel in a single `sendmsg`: it walks the socket
//! and IP layers once and is cut into datagrams at the end (by the network
//! card where it can). Forwarding produces exactly such runs: str0m cuts a
//! frame into equal packets and a shorter last one, and drains one
//! subscriber's packets one after another.
//!
//! Where the kernel or the route refuses segmentation (`EIO`, `EINVAL`), the
//! datagrams go out one by one and segmentation stays off for the socket.

use std::io::{self, IoSlice};
use std::net::SocketAddr;

use socket2::{MsgHdr, SockAddr, SockRef};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// The kernel's limit on segments per send (`UDP_MAX_SEGMENTS`).
const MAX_SEGMENTS: usize = 64;
/// The most bytes one send carries: a UDP datagram's limit, with room for
/// IPv6's larger header.
const MAX_BYTES: usize = 65_000;

/// Datagrams to one destination that can leave in one segmented send.
pub(crate) struct Run {
    destination: SocketAddr,
    segments: Vec<Vec<u8>>,
    bytes: usize,
}

impl Run {
    pub(crate) fn new(destination: SocketAddr, contents: Vec<u8>) -> Self {
        Self {
            destination,
            bytes: contents.len(),
            segments: vec![contents],
        }
    }

    /// Appends `contents` if it may join the run; gives it back if not: a
    /// different destination, longer than the segments so far, after a
    /// shorter one (which must be last), or over the kernel's limits.
    pub(crate) fn push(
        &mut self,
        destination: SocketAddr,
        contents: Vec<u8>,
    ) -> Result<(), Vec<u8>> {
        let segment_len = self.segments[0].len();
        let last_len = self.segments[self.segments.len() - 1].len();
        let joins = destination == self.destination
            && last_len == segment_len
            && contents.len() <= segment_len
            && !contents.is_empty()
            && self.segments.len() < MAX_SEGMENTS
            && self.bytes + contents.len() <= MAX_BYTES;
        if !joins {
            return Err(contents);
        }
        self.bytes += contents.len();
        self.segments.push(contents);
        Ok(())
    }

    pub(crate) fn destination(&self) -> SocketAddr {
        self.destination
    }
}

/// Sends runs on one UDP socket, segmented while the kernel accepts it.
pub(crate) struct Sender {
    segmenting: bool,
}

impl Sender {
    pub(crate) fn new() -> Self {
        Self { segmenting: true }
    }

    /// Sends every datagram of `run` to `destination` (the run's destination
    /// in the socket's address form). A failed send is logged and dropped, as
    /// the network would drop it.
    pub(crate) async fn send(&mut self, udp: &UdpSocket, run: &Run, destination: SocketAddr) {
        if run.segments.len() > 1 && self.segmenting {
            let sent = udp
                .async_io(Interest::WRITABLE, || send_segmented(udp, run, destination))
                .await;
            match sent {
                Ok(()) => return,
                Err(error) if matches!(error.raw_os_error(), Some(libc::EIO | libc::EINVAL)) => {
                    tracing::info!(%error, "UDP segmentation offload refused; sending datagrams one by one");
                    self.segmenting = false;
                }
                Err(error) => {
                    tracing::debug!(%error, %destination, "segmented UDP send failed");
                    return;
                }
            }
        }
        for segment in &run.segments {
            if let Err(error) = udp.send_to(segment, destination).await {
                tracing::debug!(%error, %destination, "UDP send failed");
            }
        }
    }
}

/// Room for one control message carrying a u16, aligned as `cmsghdr` needs.
#[repr(C, align(8))]
struct SegmentSizeControl([u8; SEGMENT_SIZE_SPACE]);

// SAFETY: CMSG_SPACE only computes a size.
const SEGMENT_SIZE_SPACE: usize = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;

/// One `sendmsg` with the segment size in a `UDP_SEGMENT` control message.
fn send_segmented(udp: &UdpSocket, run: &Run, destination: SocketAddr) -> io::Result<()> {
    let segment_len = u16::try_from(run.segments[0].len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut control = SegmentSizeControl([0; SEGMENT_SIZE_SPACE]);
    // SAFETY: `control` is aligned for `cmsghdr` and CMSG_SPACE(2) bytes
    // long: one header and its u16 fit.
    unsafe {
        let header = control.0.as_mut_ptr().cast::<libc::cmsghdr>();
        (*header).cmsg_level = libc::SOL_UDP;
        (*header).cmsg_type = libc::UDP_SEGMENT;
        (*header).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
        libc::CMSG_DATA(header)
            .cast::<u16>()
            .write_unaligned(segment_len);
    }
    let buffers: Vec<IoSlice<'_>> = run
        .segments
        .iter()
        .map(|segment| IoSlice::new(segment))
        .collect();
    let address = SockAddr::from(destination);
    let message = MsgHdr::new()
        .with_addr(&address)
        .with_buffers(&buffers)
        .with_control(&control.0);
    SockRef::from(udp).sendmsg(&message, 0).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_run_takes_equal_datagrams_to_one_destination_and_ends_with_a_shorter_one() {
        let mut run = Run::new(addr(1), vec![1; 1200]);
        assert!(run.push(addr(1), vec![2; 1200]).is_ok());
        assert_eq!(
            run.push(addr(2), vec![3; 1200]),
            Err(vec![3; 1200]),
            "another destination"
        );
        assert_eq!(
            run.push(addr(1), vec![4; 1201]),
            Err(vec![4; 1201]),
            "longer than the segments"
        );
        assert!(
            run.push(addr(1), vec![5; 300]).is_ok(),
            "a shorter last datagram"
        );
        assert_eq!(
            run.push(addr(1), vec![6; 300]),
            Err(vec![6; 300]),
            "nothing after the shorter one"
        );
        assert_eq!(run.segments.len(), 3);
    }

    #[test]
    fn a_run_stays_within_the_kernels_segment_and_size_limits() {
        let mut run = Run::new(addr(1), vec![0; 100]);
        while run.push(addr(1), vec![0; 100]).is_ok() {}
        assert_eq!(run.segments.len(), MAX_SEGMENTS);

        let mut run = Run::new(addr(1), vec![0; 1500]);
        while run.push(addr(1), vec![0; 1500]).is_ok() {}
        assert_eq!(run.segments.len(), MAX_BYTES / 1500);
    }

    #[tokio::test]
    async fn a_segmented_send_arrives_as_the_datagrams_it_was_made_of() {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let destination = receiver.local_addr().unwrap();
        let datagrams: Vec<Vec<u8>> = (0..5u8)
            .map(|i| vec![i; if i == 4 { 77 } else { 1100 }])
            .collect();
        let mut run = Run::new(destination, datagrams[0].clone());
        for datagram in &datagrams[1..] {
            run.push(destination, datagram.clone()).unwrap();
        }

        let mut udp_sender = Sender::new();
        udp_sender.send(&sender, &run, destination).await;

        assert!(
            udp_sender.segmenting,
            "the loopback device takes segmented sends"
        );
        let mut buffer = [0; 2000];
        for datagram in &datagrams {
            let (len, from) = receiver.recv_from(&mut buffer).await.unwrap();
            assert_eq!(from, sender.local_addr().unwrap());
            assert_eq!(&buffer[..len], &datagram[..]);
        }
        assert!(
            receiver.try_recv_from(&mut buffer).is_err(),
            "nothing more arrived"
        );
    }
}
