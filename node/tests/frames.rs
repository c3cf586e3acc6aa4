//! The frame decoder and envelope parser against random, truncated and oversized input:
//! never a panic, never a frame over the limit, never unbounded buffering.

use proptest::prelude::*;
use synod_node::protocol::{Envelope, FrameDecoder, FrameError, MAX_FRAME_BYTES};

const VALID: &str = r#"{"src":1,"dest":2,"body":{"type":"accept","instance":7,"ballot":[3,1],"value":"v"}}"#;

fn chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let random = prop::collection::vec(any::<u8>(), 0..512);
    let newliney =
        prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'{'), Just(b'"'), any::<u8>()], 0..256);
    let truncated = (0..VALID.len()).prop_map(|cut| VALID.as_bytes()[..cut].to_vec());
    let valid = Just(format!("{VALID}\n").into_bytes());
    let huge = (1usize..3).prop_map(|k| vec![b'a'; k * MAX_FRAME_BYTES / 2 + 7]);
    prop::collection::vec(
        prop_oneof![4 => random, 4 => newliney, 3 => truncated, 3 => valid, 1 => huge],
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decoder_never_panics_and_stays_bounded(input in chunks()) {
        let mut d = FrameDecoder::new();
        let mut valid_fed = 0;
        let mut valid_parsed = 0;
        for chunk in &input {
            if chunk.ends_with(b"\n") && chunk.starts_with(VALID.as_bytes()) {
                valid_fed += 1;
            }
            d.feed(chunk);
            while let Some(frame) = d.next_frame() {
                match frame {
                    Ok(bytes) => {
                        prop_assert!(bytes.len() <= MAX_FRAME_BYTES);
                        prop_assert!(!bytes.contains(&b'\n'));
                        if let Ok(env) = serde_json::from_slice::<Envelope>(bytes) {
                            if env.dest == 2 { valid_parsed += 1; }
                        }
                    }
                    Err(FrameError::TooLong { .. }) => {}
                }
            }
            prop_assert!(d.pending_bytes() <= MAX_FRAME_BYTES + chunk.len());
        }
        // A valid frame right after a newline is never lost: at most the ones glued to
        // garbage before them fail to parse.
        prop_assert!(valid_parsed <= valid_fed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn valid_frames_after_garbage_lines_are_decoded(garbage in prop::collection::vec(any::<u8>(), 0..300_000)) {
        let mut d = FrameDecoder::new();
        d.feed(&garbage);
        d.feed(b"\n");
        d.feed(VALID.as_bytes());
        d.feed(b"\n");
        let frames: Vec<_> = std::iter::from_fn(|| d.next_frame().map(|f| f.map(<[u8]>::to_vec))).collect();
        let last = frames.last().expect("at least the valid frame").clone();
        prop_assert_eq!(last, Ok(VALID.as_bytes().to_vec()));
    }
}
