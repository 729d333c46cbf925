//! Whose an access key id is, offline: AWS encodes the account in the id itself. The
//! 16 characters after the prefix are base 32 (RFC 4648); bits 7 to 46 of the first six
//! bytes decoded are the 12-digit account (public research by Aidan Steele and Tal
//! Be'ery, 2023; `ASIAY34FZKBOKMUTVV7A` is account 609629065308). So an unknown id in a
//! file tells "ours, or a stranger's" without a call to AWS. Ids made before AWS began
//! encoding accounts (about 2019) decode to nonsense: the account is a hint, said as
//! one.

/// The account `key_id` (`AKIA…` or `ASIA…`, 20 characters) encodes, as 12 digits.
pub(crate) fn account_of(key_id: &str) -> Option<String> {
    let tail = key_id.get(4..20).filter(|_| key_id.len() == 20)?;
    let base32 = |c: u8| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c);
    if !tail.bytes().all(base32) {
        return None;
    }
    let mut bits: u64 = 0;
    // 6 bytes are the first 48 bits: 10 base-32 characters hold 50.
    for c in tail.bytes().take(10) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | u64::from(value);
    }
    let first_six_bytes = bits >> 2;
    let account = (first_six_bytes & 0x7fff_ffff_ff80) >> 7;
    Some(format!("{account:012}"))
}

/// Whether `key_id` is a temporary (session) credential's: `ASIA…`.
pub(crate) fn is_session(key_id: &str) -> bool {
    key_id.starts_with("ASIA")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_example_decodes_to_its_account() {
        assert_eq!(
            account_of("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
    }

    #[test]
    fn an_emulator_key_decodes_to_the_emulators_account() {
        // moto encodes its default account as AWS does.
        assert_eq!(
            account_of("AKIARZPUZDIKCRZBSEWR").as_deref(),
            Some("123456789012")
        );
    }

    #[test]
    fn what_is_not_an_id_has_no_account() {
        assert_eq!(account_of("AKIA1234"), None);
        assert_eq!(account_of("AKIAIOSFODNN7EXAMPL!"), None);
        assert!(is_session("ASIAY34FZKBOKMUTVV7A"));
        assert!(!is_session("AKIAIOSFODNN7EXAMPLE"));
    }
}
