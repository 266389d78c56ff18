//! `combine`, `dict2items` and `items2dict`: Ansible's mapping filters.

use std::collections::BTreeMap;

use minijinja::Error;
use minijinja::value::{Kwargs, Rest, Value, ValueKind};

use super::invalid;

/// What `combine` does with two lists at the same key (`list_merge`).
#[derive(Clone, Copy)]
enum ListMerge {
    Replace,
    Keep,
    Append,
    Prepend,
    AppendRp,
    PrependRp,
}

/// `a | combine(b, c, recursive=false, list_merge='replace')`; a list of mappings as the
/// input or an argument is flattened, as in Ansible.
pub fn combine(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = match kwargs
        .get::<Option<&str>>("list_merge")?
        .unwrap_or("replace")
    {
        "replace" => ListMerge::Replace,
        "keep" => ListMerge::Keep,
        "append" => ListMerge::Append,
        "prepend" => ListMerge::Prepend,
        "append_rp" => ListMerge::AppendRp,
        "prepend_rp" => ListMerge::PrependRp,
        other => {
            return Err(invalid(format!(
                "combine: list_merge is one of replace, keep, append, prepend, append_rp, prepend_rp, not `{other}`"
            )));
        }
    };
    kwargs.assert_all_used()?;
    let mut mappings = Vec::new();
    for item in std::iter::once(value).chain(others.iter()) {
        flatten(item, &mut mappings)?;
    }
    let mut merged = Value::from(BTreeMap::<String, Value>::new());
    for mapping in mappings {
        merged = merge(&merged, &mapping, recursive, list_merge)?;
    }
    Ok(merged)
}

fn flatten(value: &Value, out: &mut Vec<Value>) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Map => out.push(value.clone()),
        ValueKind::Seq => {
            for item in value.try_iter()? {
                flatten(&item, out)?;
            }
        }
        _ => {
            return Err(invalid(format!(
                "combine expects mappings, got {}",
                value.kind()
            )));
        }
    }
    Ok(())
}

fn merge(a: &Value, b: &Value, recursive: bool, lists: ListMerge) -> Result<Value, Error> {
    let mut out: BTreeMap<Value, Value> = BTreeMap::new();
    for key in a.try_iter()? {
        let value = a.get_item(&key)?;
        out.insert(key, value);
    }
    for key in b.try_iter()? {
        let new = b.get_item(&key)?;
        let merged = match out.get(&key) {
            Some(old)
                if recursive && old.kind() == ValueKind::Map && new.kind() == ValueKind::Map =>
            {
                merge(old, &new, recursive, lists)?
            }
            Some(old) if old.kind() == ValueKind::Seq && new.kind() == ValueKind::Seq => {
                merge_lists(old, &new, lists)?
            }
            _ => new,
        };
        out.insert(key, merged);
    }
    Ok(Value::from_pairs(out))
}

fn merge_lists(old: &Value, new: &Value, how: ListMerge) -> Result<Value, Error> {
    let old: Vec<Value> = old.try_iter()?.collect();
    let new: Vec<Value> = new.try_iter()?.collect();
    let without = |items: &[Value], removed: &[Value]| -> Vec<Value> {
        items
            .iter()
            .filter(|v| !removed.contains(v))
            .cloned()
            .collect()
    };
    let items = match how {
        ListMerge::Replace => new,
        ListMerge::Keep => old,
        ListMerge::Append => old.into_iter().chain(new).collect(),
        ListMerge::Prepend => new.into_iter().chain(old).collect(),
        ListMerge::AppendRp => without(&old, &new).into_iter().chain(new).collect(),
        ListMerge::PrependRp => new.iter().cloned().chain(without(&old, &new)).collect(),
    };
    Ok(Value::from(items))
}

/// `{a: 1} | dict2items` is `[{key: a, value: 1}]` (`key_name`, `value_name` rename).
pub fn dict2items(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name = kwargs.get::<Option<&str>>("key_name")?.unwrap_or("key");
    let value_name = kwargs.get::<Option<&str>>("value_name")?.unwrap_or("value");
    kwargs.assert_all_used()?;
    if value.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "dict2items expects a mapping, got {}",
            value.kind()
        )));
    }
    let mut items = Vec::new();
    for key in value.try_iter()? {
        let item = value.get_item(&key)?;
        items.push(Value::from_pairs([
            (Value::from(key_name), key),
            (Value::from(value_name), item),
        ]));
    }
    Ok(Value::from(items))
}

/// The reverse of `dict2items`.
pub fn items2dict(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name = kwargs.get::<Option<&str>>("key_name")?.unwrap_or("key");
    let value_name = kwargs.get::<Option<&str>>("value_name")?.unwrap_or("value");
    kwargs.assert_all_used()?;
    if value.kind() != ValueKind::Seq {
        return Err(invalid(format!(
            "items2dict expects a list, got {}",
            value.kind()
        )));
    }
    let mut out = BTreeMap::new();
    for item in value.try_iter()? {
        let key = item.get_attr(key_name)?;
        let entry = item.get_attr(value_name)?;
        if key.is_undefined() || entry.is_undefined() {
            return Err(invalid(format!(
                "items2dict: every item needs `{key_name}` and `{value_name}`"
            )));
        }
        out.insert(key, entry);
    }
    Ok(Value::from_pairs(out))
}
