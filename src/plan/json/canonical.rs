//! Canonical JSON, written as it is made: compact, every object's keys in byte order — the
//! text of `serde_json::to_vec(&serde_json::to_value(x)?)` — without building the
//! `serde_json::Value` tree. A plan's digest is taken over this text; building the tree first
//! cost more than the rest of sealing (a map node and a `String` per key, for every field of
//! every node) and held the whole plan twice more in memory.
//!
//! Arrays and scalars go straight to the output. An object's entries are written to a buffer
//! and sorted when it ends; only the document's own (top-level) entries are written in order as
//! they come, when a first pass has read their keys, so that a large `nodes` array streams into
//! the hasher instead of being held.
//!
//! Whatever `to_value` would treat specially (a non-string map key it converts otherwise, a
//! number `Value` cannot hold, `RawValue`) is an error here; [`super::digest`] then takes the
//! digest the slow way, so the digest is the same in every case.

use std::borrow::Cow;
use std::io::Write;
use std::ops::Range;

use serde::ser::{self, Error as _, Impossible, Serialize};
use serde_json::Error;

type Result<T> = std::result::Result<T, Error>;

/// Writes `value` as canonical JSON to `out`, leaving out the document's top-level keys
/// `skip_keys`.
pub fn write<W: Write, T: Serialize + ?Sized>(
    out: &mut W,
    value: &T,
    skip_keys: &[&str],
) -> Result<()> {
    let mut scratch = Scratch::default();
    match value.serialize(KeysOnly) {
        // Of a key given twice the last is kept, and that one is known only at the end.
        Ok(keys) if has_duplicates(&keys) => Err(not_canonicalized()),
        Ok(keys) => value.serialize(TopLevel {
            out,
            scratch: &mut scratch,
            skip_keys,
            order: Order::new(keys, skip_keys),
        }),
        // Not an object: no keys to leave out.
        Err(_) => value.serialize(Canonical {
            out,
            scratch: &mut scratch,
        }),
    }
}

fn has_duplicates(keys: &[Cow<'static, str>]) -> bool {
    let mut sorted: Vec<&str> = keys.iter().map(|k| k.as_ref()).collect();
    sorted.sort_unstable();
    sorted.windows(2).any(|pair| pair[0] == pair[1])
}

/// Buffers freed by objects that ended, for the next ones: a plan has an object per node and
/// several inside each.
#[derive(Default)]
struct Scratch {
    buffers: Vec<Vec<u8>>,
    entry_lists: Vec<Vec<Entry>>,
}

impl Scratch {
    fn buffer(&mut self) -> Vec<u8> {
        self.buffers.pop().unwrap_or_default()
    }

    fn entries(&mut self) -> Vec<Entry> {
        self.entry_lists.pop().unwrap_or_default()
    }

    fn give_back(&mut self, mut buffer: Vec<u8>, mut entries: Vec<Entry>) {
        buffer.clear();
        entries.clear();
        self.buffers.push(buffer);
        self.entry_lists.push(entries);
    }
}

/// One entry of an object being written: its key and where its value's text is in the
/// object's buffer.
struct Entry {
    key: Cow<'static, str>,
    value: Range<usize>,
}

fn json<W: Write>(out: &mut W) -> serde_json::Serializer<&mut W> {
    serde_json::Serializer::new(out)
}

fn io_error(e: std::io::Error) -> Error {
    Error::io(e)
}

/// The serializer of one value, writing to `out`.
struct Canonical<'a, W> {
    out: &'a mut W,
    scratch: &'a mut Scratch,
}

impl<'a, W: Write> ser::Serializer for Canonical<'a, W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<'a, W>;
    type SerializeTuple = Array<'a, W>;
    type SerializeTupleStruct = Array<'a, W>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Object<'a, W>;
    type SerializeStruct = Object<'a, W>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        ser::Serializer::serialize_bool(&mut json(self.out), v)
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        ser::Serializer::serialize_i64(&mut json(self.out), v)
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        // What a `Value` number holds; anything wider fails `to_value` too.
        match (u64::try_from(v), i64::try_from(v)) {
            (Ok(v), _) => self.serialize_u64(v),
            (_, Ok(v)) => self.serialize_i64(v),
            _ => Err(not_canonicalized()),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        ser::Serializer::serialize_u64(&mut json(self.out), v)
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        match u64::try_from(v) {
            Ok(v) => self.serialize_u64(v),
            Err(_) => Err(not_canonicalized()),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        // A `Value` keeps an f32 as the f64 it widens to, and prints that.
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        // Not finite: `null`, as in a `Value`.
        ser::Serializer::serialize_f64(&mut json(self.out), v)
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        ser::Serializer::serialize_str(&mut json(self.out), v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        ser::Serializer::serialize_bytes(&mut json(self.out), v)
    }
    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.out.write_all(b"null").map_err(io_error)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        // `{"variant":value}`: one key, nothing to sort.
        self.out.write_all(b"{").map_err(io_error)?;
        write_key(&mut *self.out, variant)?;
        value.serialize(Canonical {
            out: &mut *self.out,
            scratch: self.scratch,
        })?;
        self.out.write_all(b"}").map_err(io_error)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a, W>> {
        self.out.write_all(b"[").map_err(io_error)?;
        Ok(Array {
            out: self.out,
            scratch: self.scratch,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'a, W>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Array<'a, W>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(not_canonicalized())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a, W>> {
        Ok(Object::new(self.out, self.scratch))
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Object<'a, W>> {
        refuse_raw_value(name)?;
        Ok(Object::new(self.out, self.scratch))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(not_canonicalized())
    }
}

/// What this writer leaves to the slow path (a tuple or struct variant, `RawValue`, a number
/// or map key `Value` cannot hold): none of them is in a plan today.
fn not_canonicalized() -> Error {
    Error::custom("not canonicalized here")
}

/// `serde_json::value::RawValue` is parsed by `to_value`, not written as a struct.
fn refuse_raw_value(name: &str) -> Result<()> {
    if name.starts_with("$serde_json::") {
        return Err(not_canonicalized());
    }
    Ok(())
}

struct Array<'a, W> {
    out: &'a mut W,
    scratch: &'a mut Scratch,
    first: bool,
}

impl<W: Write> Array<'_, W> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        if !std::mem::take(&mut self.first) {
            self.out.write_all(b",").map_err(io_error)?;
        }
        value.serialize(Canonical {
            out: &mut *self.out,
            scratch: &mut *self.scratch,
        })
    }

    fn finish(self) -> Result<()> {
        self.out.write_all(b"]").map_err(io_error)
    }
}

impl<W: Write> ser::SerializeSeq for Array<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<W: Write> ser::SerializeTuple for Array<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<W: Write> ser::SerializeTupleStruct for Array<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.finish()
    }
}

/// An object being written: entries go to `buffer`, and are sorted into `out` at the end.
struct Object<'a, W> {
    out: &'a mut W,
    scratch: &'a mut Scratch,
    buffer: Vec<u8>,
    entries: Vec<Entry>,
    key: Option<String>,
}

impl<'a, W: Write> Object<'a, W> {
    fn new(out: &'a mut W, scratch: &'a mut Scratch) -> Self {
        Object {
            buffer: scratch.buffer(),
            entries: scratch.entries(),
            out,
            scratch,
            key: None,
        }
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: Cow<'static, str>, value: &T) -> Result<()> {
        let start = self.buffer.len();
        value.serialize(Canonical {
            out: &mut self.buffer,
            scratch: &mut *self.scratch,
        })?;
        self.entries.push(Entry {
            key,
            value: start..self.buffer.len(),
        });
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        // Stable: of entries with one key, the last is kept, as a map insert keeps it.
        self.entries
            .sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
        let mut first = true;
        self.out.write_all(b"{").map_err(io_error)?;
        for (i, entry) in self.entries.iter().enumerate() {
            if self
                .entries
                .get(i + 1)
                .is_some_and(|next| next.key == entry.key)
            {
                continue;
            }
            if !std::mem::take(&mut first) {
                self.out.write_all(b",").map_err(io_error)?;
            }
            write_key(&mut *self.out, &entry.key)?;
            self.out
                .write_all(&self.buffer[entry.value.clone()])
                .map_err(io_error)?;
        }
        self.out.write_all(b"}").map_err(io_error)?;
        self.scratch.give_back(self.buffer, self.entries);
        Ok(())
    }
}

/// `"key":`.
fn write_key<W: Write>(out: &mut W, key: &str) -> Result<()> {
    ser::Serializer::serialize_str(&mut json(&mut *out), key)?;
    out.write_all(b":").map_err(io_error)
}

/// `SerializeMap` and `SerializeStruct` for an object writer with `key`, `entry` and `finish`:
/// a map's keys come one call before their values, a struct's with them.
macro_rules! object_serializers {
    ($object:ident) => {
        impl<W: Write> ser::SerializeMap for $object<'_, W> {
            type Ok = ();
            type Error = Error;
            fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
                self.key = Some(key.serialize(KeyText)?);
                Ok(())
            }
            fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                let key = self
                    .key
                    .take()
                    .ok_or_else(|| Error::custom("a map value without its key"))?;
                self.entry(Cow::Owned(key), value)
            }
            fn end(self) -> Result<()> {
                self.finish()
            }
        }

        impl<W: Write> ser::SerializeStruct for $object<'_, W> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<()> {
                self.entry(Cow::Borrowed(key), value)
            }
            fn end(self) -> Result<()> {
                self.finish()
            }
        }
    };
}

macro_rules! refuse {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok> {
            Err(not_canonicalized())
        })*
    };
}

/// Methods that refuse every value that is not a compound: for serializers that take only an
/// object.
macro_rules! refuse_scalars {
    () => {
        refuse!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_char(char),
            serialize_str(&str),
            serialize_bytes(&[u8]),
            serialize_none(),
            serialize_unit(),
            serialize_unit_struct(&'static str),
            serialize_unit_variant(&'static str, u32, &'static str),
        );
    };
}

/// Methods that refuse every compound value.
macro_rules! refuse_compounds {
    () => {
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<Self::Ok> {
            Err(not_canonicalized())
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
            Err(not_canonicalized())
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
            Err(not_canonicalized())
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct> {
            Err(not_canonicalized())
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant> {
            Err(not_canonicalized())
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant> {
            Err(not_canonicalized())
        }
    };
}

/// A map key as the `String` a `Value` object keys it by: strings, characters, booleans,
/// integers and unit variants.
struct KeyText;

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_bool(self, v: bool) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String> {
        Ok(v.to_owned())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String> {
        value.serialize(self)
    }
    refuse!(
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );
    refuse_compounds!();
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String> {
        Err(not_canonicalized())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(not_canonicalized())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(not_canonicalized())
    }
}

/// Reads the keys of a document that is an object, in the order its `Serialize` gives them,
/// values not looked at (the first pass of [`write`]); an error for anything else.
struct KeysOnly;

/// The keys read so far.
struct Keys(Vec<Cow<'static, str>>);

impl ser::Serializer for KeysOnly {
    type Ok = Vec<Cow<'static, str>>;
    type Error = Error;
    type SerializeSeq = Impossible<Self::Ok, Error>;
    type SerializeTuple = Impossible<Self::Ok, Error>;
    type SerializeTupleStruct = Impossible<Self::Ok, Error>;
    type SerializeTupleVariant = Impossible<Self::Ok, Error>;
    type SerializeMap = Keys;
    type SerializeStruct = Keys;
    type SerializeStructVariant = Impossible<Self::Ok, Error>;

    refuse_scalars!();
    refuse_compounds!();
    // What wraps an object is, in a `Value`, that object.
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Self::Ok> {
        value.serialize(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Keys> {
        Ok(Keys(Vec::new()))
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Keys> {
        refuse_raw_value(name)?;
        Ok(Keys(Vec::new()))
    }
}

impl ser::SerializeMap for Keys {
    type Ok = Vec<Cow<'static, str>>;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.0.push(Cow::Owned(key.serialize(KeyText)?));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<()> {
        Ok(())
    }
    fn end(self) -> Result<Self::Ok> {
        Ok(self.0)
    }
}

impl ser::SerializeStruct for Keys {
    type Ok = Vec<Cow<'static, str>>;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, _: &T) -> Result<()> {
        self.0.push(Cow::Borrowed(key));
        Ok(())
    }
    fn end(self) -> Result<Self::Ok> {
        Ok(self.0)
    }
}

/// The document's keys in the order they are written, and how many are.
struct Order {
    sorted: Vec<Cow<'static, str>>,
    written: usize,
}

impl Order {
    fn new(mut keys: Vec<Cow<'static, str>>, skip_keys: &[&str]) -> Self {
        keys.retain(|key| !skip_keys.contains(&key.as_ref()));
        keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Order {
            sorted: keys,
            written: 0,
        }
    }

    fn is_next(&self, key: &str) -> bool {
        self.sorted
            .get(self.written)
            .is_some_and(|next| next == key)
    }
}

/// The serializer of the document itself, once its keys are known.
struct TopLevel<'a, W> {
    out: &'a mut W,
    scratch: &'a mut Scratch,
    skip_keys: &'a [&'a str],
    order: Order,
}

impl<'a, W: Write> ser::Serializer for TopLevel<'a, W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = TopObject<'a, W>;
    type SerializeStruct = TopObject<'a, W>;
    type SerializeStructVariant = Impossible<(), Error>;

    refuse_scalars!();
    refuse_compounds!();
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<TopObject<'a, W>> {
        self.start()
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<TopObject<'a, W>> {
        self.start()
    }
}

impl<'a, W: Write> TopLevel<'a, W> {
    fn start(self) -> Result<TopObject<'a, W>> {
        self.out.write_all(b"{").map_err(io_error)?;
        Ok(TopObject {
            out: self.out,
            scratch: self.scratch,
            skip_keys: self.skip_keys,
            order: self.order,
            held: Vec::new(),
            key: None,
        })
    }
}

/// The document's object: an entry whose turn it is goes straight to the output, the others
/// are held until theirs.
struct TopObject<'a, W> {
    out: &'a mut W,
    scratch: &'a mut Scratch,
    skip_keys: &'a [&'a str],
    order: Order,
    held: Vec<(Cow<'static, str>, Vec<u8>)>,
    key: Option<String>,
}

impl<W: Write> TopObject<'_, W> {
    fn entry<T: Serialize + ?Sized>(&mut self, key: Cow<'static, str>, value: &T) -> Result<()> {
        if self.skip_keys.contains(&key.as_ref()) {
            return Ok(());
        }
        if !self.order.sorted.contains(&key) {
            // A key the first pass did not see: the two passes differ.
            return Err(not_canonicalized());
        }
        if self.order.is_next(&key) {
            self.separate()?;
            write_key(&mut *self.out, &key)?;
            value.serialize(Canonical {
                out: &mut *self.out,
                scratch: &mut *self.scratch,
            })?;
            self.order.written += 1;
            return self.write_held();
        }
        let mut text = self.scratch.buffer();
        value.serialize(Canonical {
            out: &mut text,
            scratch: &mut *self.scratch,
        })?;
        self.held.push((key, text));
        Ok(())
    }

    fn separate(&mut self) -> Result<()> {
        if self.order.written > 0 {
            self.out.write_all(b",").map_err(io_error)?;
        }
        Ok(())
    }

    /// Writes the held entries whose turn has come.
    fn write_held(&mut self) -> Result<()> {
        while let Some(at) = self
            .held
            .iter()
            .position(|(key, _)| self.order.is_next(key))
        {
            let (key, text) = self.held.swap_remove(at);
            self.separate()?;
            write_key(&mut *self.out, &key)?;
            self.out.write_all(&text).map_err(io_error)?;
            self.order.written += 1;
            self.scratch.give_back(text, Vec::new());
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        // Every key the first pass saw was written: the second pass gave the same ones.
        if self.order.written != self.order.sorted.len() || !self.held.is_empty() {
            return Err(not_canonicalized());
        }
        self.out.write_all(b"}").map_err(io_error)
    }
}

object_serializers!(Object);
object_serializers!(TopObject);

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::{Value, json};

    use super::*;

    /// What the digest was taken over before this module: the text of the `Value`.
    fn through_value<T: Serialize>(value: &T) -> Vec<u8> {
        serde_json::to_vec(&serde_json::to_value(value).unwrap()).unwrap()
    }

    fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        write(&mut out, value, &[])?;
        Ok(out)
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Unit,
        Wrapped(u8),
    }

    #[derive(Serialize)]
    #[serde(tag = "type")]
    enum Tagged {
        Directory { path: String, zeta: bool },
    }

    #[derive(Serialize)]
    struct Inner {
        zulu: f32,
        alpha: Option<i8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        nan: f64,
    }

    #[derive(Serialize)]
    struct Document {
        version: &'static str,
        nodes: Vec<Inner>,
        by_number: HashMap<u32, char>,
        #[serde(rename = "\"quoted\"")]
        quoted: (),
        kinds: Vec<Kind>,
        tagged: Tagged,
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
        élan: i128,
        audit: Value,
        digest: String,
    }

    fn document() -> Document {
        Document {
            version: "1.0",
            nodes: vec![
                Inner {
                    zulu: 0.1,
                    alpha: Some(-3),
                    skipped: None,
                    nan: f64::NAN,
                },
                Inner {
                    zulu: f32::INFINITY,
                    alpha: None,
                    skipped: Some(2),
                    nan: 1.5e300,
                },
            ],
            by_number: HashMap::from([(10, 'x'), (9, '"'), (100, '\u{1}')]),
            quoted: (),
            kinds: vec![Kind::Unit, Kind::Wrapped(7)],
            tagged: Tagged::Directory {
                path: "/srv/\u{7f}\n".to_owned(),
                zeta: true,
            },
            extra: BTreeMap::from([
                (
                    "zz".to_owned(),
                    json!({"b": [1, {"y": null, "x": "é"}], "a": 2}),
                ),
                ("Z".to_owned(), json!(u64::MAX)),
            ]),
            élan: -5,
            audit: json!([{"type": "directory", "path": "/var/log"}]),
            digest: "abc".to_owned(),
        }
    }

    #[test]
    fn writes_the_text_of_the_value() {
        let document = document();
        assert_eq!(canonical(&document).unwrap(), through_value(&document));
    }

    #[test]
    fn leaves_out_top_level_keys_only() {
        let value = json!({"digest": "x", "b": {"digest": "kept"}, "created_at": 1, "a": 1});
        let mut out = Vec::new();
        write(&mut out, &value, &["digest", "created_at"]).unwrap();
        assert_eq!(out, br#"{"a":1,"b":{"digest":"kept"}}"#);
        let mut out = Vec::new();
        write(&mut out, &document(), &["digest", "nodes"]).unwrap();
        let mut expected = serde_json::to_value(document()).unwrap();
        let map = expected.as_object_mut().unwrap();
        map.remove("digest");
        map.remove("nodes");
        assert_eq!(out, serde_json::to_vec(&expected).unwrap());
    }

    #[test]
    fn an_object_wrapped_in_a_newtype_or_an_option_leaves_out_its_keys_too() {
        #[derive(Serialize)]
        struct Wrapper(Value);
        let value = json!({"digest": "x", "b": 2, "a": 1});
        for wrapped in [
            canonical_without_digest(&Wrapper(value.clone())),
            canonical_without_digest(&Some(value)),
        ] {
            assert_eq!(wrapped.unwrap(), br#"{"a":1,"b":2}"#);
        }
    }

    fn canonical_without_digest<T: Serialize>(value: &T) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        write(&mut out, value, &["digest"])?;
        Ok(out)
    }

    #[test]
    fn a_key_given_twice_keeps_the_last_value() {
        #[derive(Serialize)]
        struct Twice {
            a: u8,
            #[serde(flatten)]
            more: BTreeMap<&'static str, u8>,
        }
        let inner = Twice {
            a: 1,
            more: BTreeMap::from([("a", 2), ("b", 3)]),
        };
        assert_eq!(
            canonical(&vec![&inner]).unwrap(),
            through_value(&vec![&inner])
        );
        // At the top level the entries stream, so the slow path takes it.
        assert!(canonical(&inner).is_err());
    }

    #[test]
    fn what_a_value_cannot_hold_is_left_to_the_slow_path() {
        #[derive(Serialize)]
        enum Variants {
            Tuple(u8, u8),
            Struct { a: u8 },
        }
        assert!(canonical(&vec![Variants::Tuple(1, 2)]).is_err());
        assert!(canonical(&vec![Variants::Struct { a: 1 }]).is_err());
        assert!(canonical(&vec![u128::MAX]).is_err());
        assert!(canonical(&HashMap::from([(vec![1u8], 1u8)])).is_err());
        // How `RawValue` serializes (with serde_json's `raw_value` feature).
        #[derive(Serialize)]
        #[serde(rename = "$serde_json::private::RawValue")]
        struct Raw {
            #[serde(rename = "$serde_json::private::RawValue")]
            text: &'static str,
        }
        assert!(canonical(&vec![Raw { text: "{}" }]).is_err());
        assert!(canonical(&Raw { text: "{}" }).is_err());
    }

    #[test]
    fn a_document_that_is_not_an_object_is_written_whole() {
        for value in [json!([{"b": 1, "a": 2}]), json!("text"), json!(null)] {
            assert_eq!(canonical(&value).unwrap(), through_value(&value));
        }
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(".{0,4}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_value_in_a_struct_writes_the_text_of_the_value(
            first in any_value(),
            second in any_value(),
            keys in prop::collection::hash_map(".{0,4}", any::<u8>(), 0..6),
        ) {
            #[derive(Serialize)]
            struct Holder {
                zz: Value,
                keys: HashMap<String, u8>,
                aa: Vec<Value>,
            }
            let holder = Holder { zz: first.clone(), keys, aa: vec![second, first] };
            prop_assert_eq!(canonical(&holder).unwrap(), through_value(&holder));
        }
    }
}
