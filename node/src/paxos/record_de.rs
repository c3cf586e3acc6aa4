//! Reading a [`Record`] back: the JSON serde's derive writes for it (`{"r":"accept",
//! "instance":3,"ballot":[2,1],"value":"v"}`), fields in any order, unknown fields skipped,
//! as the derive would read it. Three differences, on records the log never writes (every
//! record it reads was written by the derive, under a CRC): an array with the tag first, a
//! numeric tag, and a field named as another variant's with a value of the wrong type (the
//! derive skips it) are refused here, which stops the node at start-up rather than let it
//! guess.
//!
//! Why by hand: the derive reads an internally tagged enum by first buffering the whole
//! object into serde's `Content` tree (it cannot know the variant before it has seen the
//! tag), then reading the variant from that. Here every field goes straight into a local
//! of its own type, and the variant is chosen at the end. A node reads its whole log back on
//! every restart, and `synod sim` restarts nodes thousands of times a run.

use super::ballot::{Ballot, InstanceId};
use super::record::Record;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

const VARIANTS: &[&str] = &["promise", "accept", "round", "learned", "retired"];
const FIELDS: &[&str] = &["r", "instance", "ballot", "value", "round", "from", "to"];

enum Field {
    R,
    Instance,
    Ballot,
    Value,
    Round,
    From,
    To,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "r" => Field::R,
                    "instance" => Field::Instance,
                    "ballot" => Field::Ballot,
                    "value" => Field::Value,
                    "round" => Field::Round,
                    "from" => Field::From,
                    "to" => Field::To,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

/// Takes `slot`'s value, once: a second `name` is an error, as the derive makes it.
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

fn need<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a log record (an object with its type in `r`)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut r: Option<String> = None;
        let mut instance: Option<InstanceId> = None;
        let mut ballot: Option<Ballot> = None;
        let mut value: Option<String> = None;
        let mut round: Option<u64> = None;
        let mut from: Option<InstanceId> = None;
        let mut to: Option<InstanceId> = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::R => once(&mut map, &mut r, "r")?,
                Field::Instance => once(&mut map, &mut instance, "instance")?,
                Field::Ballot => once(&mut map, &mut ballot, "ballot")?,
                Field::Value => once(&mut map, &mut value, "value")?,
                Field::Round => once(&mut map, &mut round, "round")?,
                Field::From => once(&mut map, &mut from, "from")?,
                Field::To => once(&mut map, &mut to, "to")?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let r = need(r, "r")?;
        Ok(match r.as_str() {
            "promise" => {
                Record::Promise { instance: need(instance, "instance")?, ballot: need(ballot, "ballot")? }
            }
            "accept" => Record::Accept {
                instance: need(instance, "instance")?,
                ballot: need(ballot, "ballot")?,
                value: need(value, "value")?,
            },
            "round" => Record::Round { round: need(round, "round")? },
            "learned" => {
                Record::Learned { instance: need(instance, "instance")?, value: need(value, "value")? }
            }
            "retired" => Record::Retired { from: need(from, "from")?, to: need(to, "to")? },
            other => return Err(de::Error::unknown_variant(other, VARIANTS)),
        })
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Record, D::Error> {
        d.deserialize_struct("Record", FIELDS, RecordVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serde's derive for the same enum: the reader this file replaces, kept to hold it to.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(tag = "r", rename_all = "snake_case")]
    enum Derived {
        Promise { instance: InstanceId, ballot: Ballot },
        Accept { instance: InstanceId, ballot: Ballot, value: String },
        Round { round: u64 },
        Learned { instance: InstanceId, value: String },
        Retired { from: InstanceId, to: InstanceId },
    }

    fn derived(r: Derived) -> Record {
        match r {
            Derived::Promise { instance, ballot } => Record::Promise { instance, ballot },
            Derived::Accept { instance, ballot, value } => Record::Accept { instance, ballot, value },
            Derived::Round { round } => Record::Round { round },
            Derived::Learned { instance, value } => Record::Learned { instance, value },
            Derived::Retired { from, to } => Record::Retired { from, to },
        }
    }

    #[test]
    fn every_record_reads_back_as_written() {
        let ballot = Ballot::new(7, 3);
        for record in [
            Record::Promise { instance: 4, ballot },
            Record::Accept { instance: 4, ballot, value: "a \"quoted\"\nvälue".into() },
            Record::Round { round: u64::MAX },
            Record::Learned { instance: 0, value: String::new() },
            Record::Retired { from: 1, to: 99 },
        ] {
            let json = serde_json::to_string(&record).unwrap();
            assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), record, "{json}");
        }
    }

    /// Field order, unknown fields, and every kind of bad record: read as the derive reads
    /// them (the same record, or an error for both).
    #[test]
    fn it_reads_what_the_derive_reads_and_refuses_what_it_refuses() {
        for json in [
            r#"{"instance":4,"ballot":[7,3],"r":"promise"}"#,
            r#"{"r":"accept","value":"v","instance":1,"ballot":[1,1],"extra":{"x":[1,2]}}"#,
            r#"{"r":"round","round":5}"#,
            r#"{"r":"retired","to":3,"from":1}"#,
            r#"{"r":"learned","instance":2}"#,
            r#"{"r":"vote","instance":2}"#,
            r#"{"instance":2}"#,
            r#"{"r":"round","round":"5"}"#,
            r#"{"r":"round","round":5,"round":6}"#,
            r#"{"r":"promise","instance":4,"ballot":[7]}"#,
            r#"{"r":"round","round":5"#,
        ] {
            let ours = serde_json::from_str::<Record>(json).ok();
            let theirs = serde_json::from_str::<Derived>(json).ok().map(derived);
            assert_eq!(ours, theirs, "{json}");
        }
        assert!(serde_json::from_str::<Record>(r#"["round",5]"#).is_err());
    }
}
