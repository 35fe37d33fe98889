//! "Did you mean": the known name closest to a mistyped one, for errors about unknown types,
//! stacks and tenants.

/// The candidate closest to `word` (edit distance, with transpositions), if one is close enough
/// to be what was meant: at most a third of the word's length away, and at least one edit
/// allowed. Ties go to the first candidate.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates.into_iter().map(|c| (strsim::damerau_levenshtein(word, c), c)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name_only_when_close() {
        let types = ["aws_vpc", "aws_subnet", "aws_lb", "aws_eip"];
        assert_eq!(did_you_mean("aws_vcp", types), Some("aws_vpc"));
        assert_eq!(did_you_mean("aws_subnt", types), Some("aws_subnet"));
        assert_eq!(did_you_mean("netwrk", ["network", "base"]), Some("network"));
        assert_eq!(did_you_mean("t3", ["t1", "alice"]), Some("t1"));
        assert_eq!(did_you_mean("something_else", types), None);
    }
}
