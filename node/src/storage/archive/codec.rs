//! The bytes inside a segment: LEB128 varints, little-endian fields, a block's entries.

use super::{BLOCK_ENTRIES_MAX, VALUE_BYTES_MAX};

/// A u64 as LEB128 takes at most 10 bytes.
pub(super) const VARINT_BYTES_MAX: usize = 10;

/// The length of the common prefix of `a` and `b`, in bytes.
pub(super) fn shared_prefix_bytes(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

pub(super) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

pub(super) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Decodes a whole block payload, checking that its ids rise from `first` to `last`, and
/// returns the value of `id` if the block holds it. Calls `each_id` with every id it holds.
pub(super) fn decode_block(
    payload: &[u8],
    first: u64,
    last: u64,
    id: u64,
    mut each_id: impl FnMut(u64),
) -> Result<Option<String>, String> {
    let mut at = 0;
    let mut value: Vec<u8> = Vec::new();
    let mut found = None;
    let mut prev_id: Option<u64> = None;
    for _ in 0..BLOCK_ENTRIES_MAX {
        let delta = get_varint(payload, &mut at)?;
        let shared = get_varint(payload, &mut at)?;
        let suffix = get_varint(payload, &mut at)?;
        let entry_id = match prev_id {
            None if delta != first => return Err(format!("first id {delta}, but the index says {first}")),
            None => delta,
            Some(p) if delta == 0 => return Err(format!("id {p} repeats")),
            Some(p) => p.checked_add(delta).ok_or_else(|| format!("id {p} + {delta} overflows"))?,
        };
        if shared > value.len() as u64 || shared + suffix > VALUE_BYTES_MAX as u64 {
            return Err(format!(
                "id {entry_id}: {shared} shared bytes and {suffix} more, after a value of {}",
                value.len()
            ));
        }
        let Some(bytes) = payload.get(at..at + suffix as usize) else {
            return Err(format!("id {entry_id}: value runs past the block's end"));
        };
        value.truncate(shared as usize);
        value.extend_from_slice(bytes);
        at += suffix as usize;
        each_id(entry_id);
        if entry_id == id {
            found =
                Some(String::from_utf8(value.clone()).map_err(|_| format!("id {id}: value is not UTF-8"))?);
        }
        prev_id = Some(entry_id);
        if at == payload.len() {
            break;
        }
    }
    if at != payload.len() {
        return Err(format!("more than {BLOCK_ENTRIES_MAX} entries in a block"));
    }
    if prev_id != Some(last) {
        return Err(format!("last id {prev_id:?}, but the index says {last}"));
    }
    Ok(found)
}

/// Appends `v` as LEB128.
pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    for _ in 0..VARINT_BYTES_MAX {
        if v < 0x80 {
            out.push(v as u8);
            return;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    unreachable!("a u64 takes at most 10 LEB128 bytes");
}

/// Reads a LEB128 u64 at `*at` and moves past it.
pub(super) fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for k in 0..VARINT_BYTES_MAX {
        let Some(&b) = bytes.get(*at) else {
            return Err("varint runs past the block's end".into());
        };
        *at += 1;
        if k == VARINT_BYTES_MAX - 1 && b > 1 {
            return Err("varint overflows 64 bits".into());
        }
        v |= u64::from(b & 0x7f) << (7 * k);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".into())
}
