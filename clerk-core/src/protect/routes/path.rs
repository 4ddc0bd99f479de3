// How the guard reads a raw request path: every reading a framework
// could route (decoded, collapsed, parameters stripped), or none when the
// path is malformed. See the module docs, "How the guard reads paths".
use super::MalformedPath;

/// What a raw path holds that makes its readings differ.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Shape {
    escapes: bool,
    encoded_separator: bool,
    /// `%3F` or `%23`: kept encoded in the decoded reading.
    encoded_delimiter: bool,
    /// Decoded once, it still holds an escape (`%2561`): a proxy that
    /// decodes twice would route the twice-decoded path.
    double_encoded: bool,
    backslash: bool,
    semicolon: bool,
    double_slash: bool,
}

impl Shape {
    pub(super) fn is_plain(self) -> bool {
        !(self.escapes || self.backslash || self.semicolon || self.double_slash)
    }
}

/// The one reading a router routes, when there is exactly one: the raw
/// path when plain, decoded when it holds only plain escapes; `None` for
/// anything readable several ways (encoded separators or delimiters,
/// `\`, `;`, `//`, double encoding) or malformed.
pub(super) fn routed(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let shape = inspect(raw).ok()?;
    if shape.is_plain() {
        return Some(raw.into());
    }
    let only_escapes = !(shape.backslash
        || shape.semicolon
        || shape.double_slash
        || shape.encoded_separator
        || shape.encoded_delimiter
        || shape.double_encoded);
    if !only_escapes {
        return None;
    }
    decode_fully(raw).ok().map(Into::into)
}

// Hand-written rather than `percent_encoding` alone: the guard needs to know
// *what* each escape decodes to (separators, controls, `?`/`#`, `%`), not
// only the decoded string.
fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    Some((hex(*bytes.get(i + 1)?)? << 4) | hex(*bytes.get(i + 2)?)?)
}

/// One pass over the raw path: refuses what no reading can be trusted for
/// and says which readings differ from the raw one.
pub(super) fn inspect(raw: &str) -> Result<Shape, MalformedPath> {
    let bytes = raw.as_bytes();
    let mut shape = Shape::default();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let decoded = escape_at(bytes, i).ok_or(MalformedPath)?;
                match decoded {
                    b'/' | b'\\' => shape.encoded_separator = true,
                    b';' => shape.semicolon = true,
                    b'?' | b'#' => shape.encoded_delimiter = true,
                    c if c.is_ascii_control() => return Err(MalformedPath),
                    _ => {}
                }
                shape.escapes = true;
                i += 3;
                continue;
            }
            b'\\' => shape.backslash = true,
            b';' => shape.semicolon = true,
            b'/' if i > 0 && bytes[i - 1] == b'/' => shape.double_slash = true,
            c if c.is_ascii_control() => return Err(MalformedPath),
            _ => {}
        }
        i += 1;
    }
    if shape.escapes {
        // Escapes must decode to UTF-8 without control characters (C1
        // controls arrive as two-byte sequences).
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| MalformedPath)?;
        if decoded.chars().any(char::is_control) {
            return Err(MalformedPath);
        }
        if has_dot_segment(&decoded) {
            return Err(MalformedPath);
        }
        let once = decoded.as_bytes();
        shape.double_encoded =
            (0..once.len()).any(|j| once[j] == b'%' && escape_at(once, j).is_some());
    } else if (raw.starts_with('.') || raw.contains("/.") || raw.contains("\\."))
        && has_dot_segment(raw)
    {
        return Err(MalformedPath);
    }
    Ok(shape)
}

/// A `.` or `..` segment, with `\` as a separator and `;parameters` cut.
fn has_dot_segment(path: &str) -> bool {
    path.split(['/', '\\'])
        .map(|segment| segment.split(';').next().unwrap_or(segment))
        .any(|segment| segment == "." || segment == "..")
}

/// Every reading of a raw path that is not [plain](Shape::is_plain), each
/// with whether it keeps empty segments (`//`), which the loose patterns
/// judge.
pub(super) fn readings(raw: &str, shape: Shape) -> Result<Vec<(String, bool)>, MalformedPath> {
    let mut out = Vec::with_capacity(8);
    let mut push = |reading: String| {
        if shape.semicolon {
            let stripped = strip_parameters(&reading);
            out.push((collapse(&stripped), false));
            out.push((stripped, true));
        }
        if shape.double_slash || reading.contains("//") {
            out.push((collapse(&reading), false));
            out.push((reading, true));
        } else {
            out.push((reading, false));
        }
    };
    push(raw.to_owned());
    if shape.escapes {
        push(decode_keeping_separators(raw)?);
    }
    if shape.encoded_separator || shape.backslash || shape.encoded_delimiter {
        push(decode_fully(raw)?);
    }
    if shape.double_encoded {
        // As a proxy that decodes twice would route it; if that reading
        // cannot be trusted either, refuse.
        let twice = decode_fully(&decode_fully(raw)?)?;
        if twice.chars().any(char::is_control) || has_dot_segment(&twice) {
            return Err(MalformedPath);
        }
        push(twice);
    }
    Ok(out)
}

/// Percent-decodes everything (a `%` not followed by two hex digits stays
/// as it is), reading `\` as `/`.
fn decode_fully(path: &str) -> Result<String, MalformedPath> {
    Ok(percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| MalformedPath)?
        .replace('\\', "/"))
}

/// Percent-decodes everything but `%2F` and `%5C` (one segment, as
/// frameworks route them) and `%3F` / `%23` (part of the segment, as
/// routers see them), which stay encoded in upper case.
fn decode_keeping_separators(raw: &str) -> Result<String, MalformedPath> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let decoded = escape_at(bytes, i).ok_or(MalformedPath)?;
            match decoded {
                b'/' => out.extend_from_slice(b"%2F"),
                b'\\' => out.extend_from_slice(b"%5C"),
                b'?' => out.extend_from_slice(b"%3F"),
                b'#' => out.extend_from_slice(b"%23"),
                c => out.push(c),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| MalformedPath)
}

/// `//` collapsed to `/`.
fn collapse(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// `;parameters` cut from every segment (`/a;x/b;y=1` is `/a/b`).
fn strip_parameters(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '/' => {
                skipping = false;
                out.push(c);
            }
            ';' => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}
