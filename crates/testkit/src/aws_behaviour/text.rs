//! Reading requests and rewriting answers as text: the layer needs a handful of fields from form
//! bodies, JSON bodies and XML answers, and plain scanning does that without an XML parser.

use std::ops::Range;

use crate::fault_proxy::Request;

/// One request (`operation` is `ec2 CreateVpc`): its operation split and its parameters read once.
pub(super) struct Call<'a> {
    /// The signing name: `ec2`, `ecs`, `elasticloadbalancing`, `iam`, `autoscaling`…
    pub(super) service: &'a str,
    /// `CreateVpc`.
    pub(super) action: &'a str,
    /// Decoded form parameters (EC2 and awsQuery); empty for JSON protocols.
    pub(super) form: Vec<(String, String)>,
    /// The JSON body (awsJson protocols); `Null` otherwise.
    pub(super) json: serde_json::Value,
}

impl<'a> Call<'a> {
    pub(super) fn new(request: &Request, operation: &'a str) -> Call<'a> {
        let (service, action) = operation.split_once(' ').unwrap_or((operation, ""));
        let (form, json) = if request.header("x-amz-target").is_some() {
            (Vec::new(), serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null))
        } else {
            (form_pairs(&String::from_utf8_lossy(&request.body)), serde_json::Value::Null)
        };
        Call { service, action, form, json }
    }

    pub(super) fn is(&self, service: &str, action: &str) -> bool {
        self.service == service && self.action == action
    }

    /// The first form parameter called `key`.
    pub(super) fn param(&self, key: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every form value whose key ends with `suffix` (`DefaultActions.member.1.TargetGroupArn`).
    pub(super) fn params_ending<'b>(&'b self, suffix: &'b str) -> impl Iterator<Item = &'b str> + 'b {
        self.form.iter().filter(move |(k, _)| k.ends_with(suffix)).map(|(_, v)| v.as_str())
    }

    /// A string field of the JSON body.
    pub(super) fn field(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(|v| v.as_str())
    }
}

/// `a=1&b=x%2Fy` → `[("a", "1"), ("b", "x/y")]`.
pub(super) fn form_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&').filter(|kv| !kv.is_empty()).map(|kv| kv.split_once('=').unwrap_or((kv, ""))).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub(super) fn tag_value<'x>(xml: &'x str, tag: &str) -> Option<&'x str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// Every `<tag>value</tag>` in `xml`: the value and where the element starts.
pub(super) fn tag_values<'x>(xml: &'x str, tag: &str) -> Vec<(usize, &'x str)> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = xml[from..].find(&open) {
        let start = from + at;
        let value_start = start + open.len();
        let Some(len) = xml[value_start..].find(&close) else { break };
        found.push((start, &xml[value_start..value_start + len]));
        from = value_start + len + close.len();
    }
    found
}

/// The innermost `<element>…</element>` around `pos` (moto writes list entries as `<item>` or
/// `<member>` with no attributes), or the whole text when there is none (a create's answer
/// holds its one resource outside any list).
pub(super) fn enclosing(xml: &str, element: &str, pos: usize) -> Range<usize> {
    let open = format!("<{element}>");
    let close = format!("</{element}>");
    let mut stack = Vec::new();
    let mut at = 0;
    while at < pos {
        let next_open = xml[at..pos].find(&open).map(|i| i + at);
        let next_close = xml[at..pos].find(&close).map(|i| i + at);
        match (next_open, next_close) {
            (Some(o), Some(c)) if o < c => {
                stack.push(o);
                at = o + open.len();
            }
            (_, Some(c)) => {
                stack.pop();
                at = c + close.len();
            }
            (Some(o), None) => {
                stack.push(o);
                at = o + open.len();
            }
            (None, None) => break,
        }
    }
    let Some(start) = stack.pop() else { return 0..xml.len() };
    let mut depth = 0usize;
    let mut at = pos;
    loop {
        let next_open = xml[at..].find(&open).map(|i| i + at);
        let Some(c) = xml[at..].find(&close).map(|i| i + at) else { return start..xml.len() };
        match next_open {
            Some(o) if o < c => {
                depth += 1;
                at = o + open.len();
            }
            _ if depth > 0 => {
                depth -= 1;
                at = c + close.len();
            }
            _ => return start..c + close.len(),
        }
    }
}

/// Replaces the first `from` inside `range` of `text` with `to`; whether it did.
pub(super) fn replace_in(text: &mut String, range: Range<usize>, from: &str, to: &str) -> bool {
    match text[range.clone()].find(from) {
        Some(i) => {
            let at = range.start + i;
            text.replace_range(at..at + from.len(), to);
            true
        }
        None => false,
    }
}

/// The first `<state>…</state>` inside `range`, whatever its value.
pub(super) fn state_element(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let start = text[range.clone()].find("<state>")? + range.start;
    let end = text[start..range.end].find("</state>")? + start + "</state>".len();
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        let pairs = form_pairs("Action=CreateListener&DefaultActions.member.1.TargetGroupArn=arn%3Aaws%3Aelb%2Ftg%2Fa&Name=a+b");
        assert_eq!(pairs[1], ("DefaultActions.member.1.TargetGroupArn".into(), "arn:aws:elb/tg/a".into()));
        assert_eq!(pairs[2], ("Name".into(), "a b".into()));
        assert_eq!(form_pairs("A=%zz&B=%4"), vec![("A".into(), "%zz".into()), ("B".into(), "%4".into())]);
    }

    #[test]
    fn the_enclosing_item_is_the_innermost_one() {
        let xml = "<set><item><a>1</a><sub><item><id>x</id><state>s</state></item></sub><state>outer</state></item><item><id>y</id></item></set>";
        let x = xml.find("<id>x").unwrap();
        assert_eq!(&xml[enclosing(xml, "item", x)], "<item><id>x</id><state>s</state></item>");
        let a = xml.find("<a>").unwrap();
        assert!(xml[enclosing(xml, "item", a)].ends_with("<state>outer</state></item>"));
        let y = xml.find("<id>y").unwrap();
        assert_eq!(&xml[enclosing(xml, "item", y)], "<item><id>y</id></item>");
        assert_eq!(enclosing("<vpc><id>v</id></vpc>", "item", 5), 0..21);
    }

    #[test]
    fn replacement_stays_inside_its_range() {
        let mut text = String::from("<item><state>available</state></item><item><state>available</state></item>");
        let second = 37..text.len();
        assert!(replace_in(&mut text, second, "<state>available</state>", "<state>pending</state>"));
        assert_eq!(text, "<item><state>available</state></item><item><state>pending</state></item>");
        assert_eq!(tag_values(&text, "state"), vec![(6, "available"), (43, "pending")]);
        assert_eq!(tag_value(&text, "state"), Some("available"));
    }
}
