//! The tree every result is written as, for its two readers: the browser (`web/` turns it into
//! JS objects with `Float32Array`s) and the command line (`result.json`). What goes into it is
//! each network's business (`model::report` for the bundled network, `net::report` for a loaded
//! one); this module depends on nothing of either.

/// A JSON-like tree whose float arrays stay `f32` (they become `Float32Array`s in the browser).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Bool(bool),
    Text(String),
    Floats(Vec<f32>),
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// An object of `fields`, in their order.
    pub fn object(fields: Vec<(&str, Value)>) -> Self {
        Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Appends the field `key` to an object (nothing on any other value).
    pub(crate) fn push(&mut self, key: &str, value: Value) {
        if let Value::Object(fields) = self {
            fields.push((key.to_string(), value));
        }
    }
}

/// `{ width, height, data }`, the shape of every map.
pub fn plane(width: usize, height: usize, data: &[f32]) -> Value {
    Value::object(vec![
        ("width", Value::Number(width as f64)),
        ("height", Value::Number(height as f64)),
        ("data", Value::Floats(data.to_vec())),
    ])
}
