//! Strict JSON: duplicate member names are refused at any depth.
//!
//! serde_json keeps the last of duplicate members silently; two parsers that
//! disagree on which duplicate wins are a classic JWT confusion, so this
//! visitor is written here instead.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value as this crate reads it: a light tree whose strings are
/// borrowed from the input when they have no escapes, and whose objects are
/// small vectors checked for duplicate member names. Converting to
/// `serde_json::Value` happens only where a caller asks for one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a> {
    /// A JSON string.
    Str(Cow<'a, str>),
    /// A JSON number.
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An array.
    Array(Vec<Field<'a>>),
    /// An object, members in input order, names unique.
    Object(Vec<(Cow<'a, str>, Field<'a>)>),
}

impl<'a> Field<'a> {
    pub(crate) fn into_string(self) -> Option<String> {
        match self {
            Self::Str(s) => Some(s.into_owned()),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A member of an object.
    pub(crate) fn member(&self, name: &str) -> Option<&Field<'a>> {
        match self {
            Self::Object(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Takes a member out of an object.
    pub(crate) fn take_member(&mut self, name: &str) -> Option<Field<'a>> {
        match self {
            Self::Object(members) => {
                let i = members.iter().position(|(k, _)| k == name)?;
                Some(members.swap_remove(i).1)
            }
            _ => None,
        }
    }

    /// The same value as `serde_json::Value`.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Self::Str(s) => Value::String(s.into_owned()),
            Self::Num(n) => Number::from_f64(n).map_or(Value::Null, Value::Number),
            Self::Bool(b) => Value::Bool(b),
            Self::Null => Value::Null,
            Self::Array(items) => Value::Array(items.into_iter().map(Field::into_value).collect()),
            Self::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_value()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value without duplicate object members")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(v)))
            }
            #[allow(clippy::cast_precision_loss)] // NumericDate precision is seconds
            fn visit_i64<E>(self, v: i64) -> Result<Field<'de>, E> {
                Ok(Field::Num(v as f64))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E>(self, v: u64) -> Result<Field<'de>, E> {
                Ok(Field::Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Field<'de>, E> {
                Ok(Field::Num(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Field<'de>, E> {
                Ok(Field::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Field<'de>, E> {
                Ok(Field::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Field::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<'de>, A::Error> {
                let mut members: Vec<(Cow<'de, str>, Field<'de>)> = Vec::new();
                let mut seen = Seen::new();
                while let Some(Key(name)) = map.next_key()? {
                    if !seen.insert(name.clone()) {
                        return Err(de::Error::custom("duplicate member name"));
                    }
                    members.push((name, map.next_value()?));
                }
                Ok(Field::Object(members))
            }
        }
        d.deserialize_any(FieldVisitor)
    }
}

/// Member names seen in one object: a linear scan for the handful real
/// tokens have, a hash set past that, so a forged token with a thousand
/// members costs linear time before its signature is even checked.
struct Seen<'de> {
    // Inline: real objects have a few members, and this runs on every
    // verification, so no allocation until there are more.
    few: [Option<Cow<'de, str>>; 8],
    len: usize,
    many: Option<std::collections::HashSet<Cow<'de, str>>>,
}

impl<'de> Seen<'de> {
    fn new() -> Self {
        Self {
            few: Default::default(),
            len: 0,
            many: None,
        }
    }

    /// Records `name`; false when it was already there.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(name);
        }
        if self.few[..self.len].iter().flatten().any(|n| *n == name) {
            return false;
        }
        if self.len < self.few.len() {
            self.few[self.len] = Some(name);
            self.len += 1;
        } else {
            let mut set: std::collections::HashSet<Cow<'de, str>> =
                self.few.iter_mut().filter_map(Option::take).collect();
            set.insert(name);
            self.many = Some(set);
        }
        true
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// One strict pass over a JSON object: the members named in `names` are
/// read as [`Field`]s; every other member is only checked (no duplicate
/// names at any depth) and skipped without allocating.
///
/// Building a full `serde_json::Map` on every verification cost more than
/// the rest of the pipeline together, hence this hand-written pass.
pub(crate) struct Fields<'a, const N: usize> {
    // Boxed: the array is several hundred bytes and would otherwise be
    // copied at every hand-over.
    values: Box<[Option<Field<'a>>; N]>,
}

/// Maps a member name to its slot, `None` for members that are only checked.
pub(crate) type SlotOf = fn(&str) -> Option<usize>;

impl<'a, const N: usize> Fields<'a, N> {
    /// `None` unless `bytes` are exactly one JSON object without duplicate
    /// member names.
    pub(crate) fn parse(bytes: &'a [u8], slot_of: SlotOf) -> Option<Self> {
        Self::parse_first(bytes, slot_of, N)
    }

    /// Like [`Fields::parse`], but only slots below `read` are read; the
    /// other named members are checked (duplicates, strict JSON) and
    /// skipped without allocating.
    pub(crate) fn parse_first(bytes: &'a [u8], slot_of: SlotOf, read: usize) -> Option<Self> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let values = de
            .deserialize_map(FieldsVisitor::<N> { slot_of, read })
            .ok()?;
        de.end().ok()?;
        Some(Self { values })
    }

    /// Takes a member out of its slot (each can be taken once).
    pub(crate) fn take(&mut self, slot: usize) -> Option<Field<'a>> {
        self.values.get_mut(slot)?.take()
    }

    /// Borrows the member in a slot.
    pub(crate) fn get(&self, slot: usize) -> Option<&Field<'a>> {
        self.values.get(slot)?.as_ref()
    }
}

struct FieldsVisitor<const N: usize> {
    slot_of: SlotOf,
    read: usize,
}

impl<'de, const N: usize> Visitor<'de> for FieldsVisitor<N> {
    type Value = Box<[Option<Field<'de>>; N]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object without duplicate members")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: Self::Value = Box::new(std::array::from_fn(|_| None));
        // Names of the other members; objects here have a handful, so a
        // linear scan is cheaper than hashing.
        let mut others = Seen::new();
        // Named members that are only checked: duplicates by bit.
        let mut skipped: u64 = 0;
        while let Some(Key(name)) = map.next_key()? {
            let slot = (self.slot_of)(&name).filter(|&i| i < N);
            if let Some(i) = slot.filter(|&i| i < self.read) {
                if values[i].is_some() {
                    return Err(de::Error::custom("duplicate member name"));
                }
                values[i] = Some(map.next_value()?);
            } else if let Some(i) = slot.filter(|&i| i < 64) {
                if skipped & (1 << i) != 0 {
                    return Err(de::Error::custom("duplicate member name"));
                }
                skipped |= 1 << i;
                map.next_value::<StrictSkip>()?;
            } else {
                if !others.insert(name) {
                    return Err(de::Error::custom("duplicate member name"));
                }
                map.next_value::<StrictSkip>()?;
            }
        }
        Ok(values)
    }
}

/// Walks one JSON value without keeping it, refusing duplicate member names
/// at any depth; allocates only a list of names per object.
struct StrictSkip;

impl<'de> Deserialize<'de> for StrictSkip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = StrictSkip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value without duplicate object members")
            }
            fn visit_bool<E>(self, _: bool) -> Result<StrictSkip, E> {
                Ok(StrictSkip)
            }
            fn visit_i64<E>(self, _: i64) -> Result<StrictSkip, E> {
                Ok(StrictSkip)
            }
            fn visit_u64<E>(self, _: u64) -> Result<StrictSkip, E> {
                Ok(StrictSkip)
            }
            fn visit_f64<E>(self, _: f64) -> Result<StrictSkip, E> {
                Ok(StrictSkip)
            }
            fn visit_str<E>(self, _: &str) -> Result<StrictSkip, E> {
                Ok(StrictSkip)
            }
            fn visit_unit<E>(self) -> Result<StrictSkip, E> {
                Ok(StrictSkip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictSkip, A::Error> {
                while seq.next_element::<StrictSkip>()?.is_some() {}
                Ok(StrictSkip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictSkip, A::Error> {
                let mut names = Seen::new();
                while let Some(Key(name)) = map.next_key()? {
                    if !names.insert(name) {
                        return Err(de::Error::custom("duplicate member name"));
                    }
                    map.next_value::<StrictSkip>()?;
                }
                Ok(StrictSkip)
            }
        }
        d.deserialize_any(SkipVisitor)
    }
}
