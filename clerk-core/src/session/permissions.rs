//! Decoding v2 organization permissions: `per` names, one decimal bitmask
//! per feature in `fpm`, features from `fea`.

use super::Scope;

/// Decodes v2 permissions: mask *j* (decimal, any size) grants `per[i]` for
/// every set bit *i* within feature *j*. Masks pair with `fea` entries by
/// position when the counts agree, else with the organization-scoped entries
/// (`o`, `ou`, `uo`) in order. Runs on every uncached verification, so it
/// walks the comma lists instead of collecting them.
pub(super) fn v2_permissions(per: &str, fpm: &str, fea: &str) -> Vec<String> {
    let names = || per.split(',').map(str::trim_ascii);
    let name_count = names().count();
    let entries = || {
        fea.split(',')
            .map(str::trim_ascii)
            .filter(|e| !e.is_empty())
    };
    let by_position = fpm.split(',').count() == entries().count();
    let features = entries()
        .filter(|e| {
            by_position
                || e.split_once(':').is_some_and(|(scope, _)| {
                    Scope::parse(scope).is_some_and(Scope::includes_organization)
                })
        })
        .map(|e| e.split_once(':').map(|(_, feature)| feature));
    let mut out = Vec::new();
    for (feature, mask) in features.zip(fpm.split(',').map(str::trim_ascii)) {
        let Some(feature) = feature else { continue };
        let Some(bits) = LowBits::parse(mask, name_count) else {
            continue;
        };
        for (i, name) in names().enumerate() {
            if !name.is_empty() && bits.is_set(i) {
                let mut p = String::with_capacity(5 + feature.len() + name.len());
                p.push_str("org:");
                p.push_str(feature);
                p.push(':');
                p.push_str(name);
                out.push(p);
            }
        }
    }
    out
}

/// The low bits of a non-negative decimal integer of any size.
///
/// Written by hand rather than pulling in a big-integer crate: only the low
/// bits are needed, and those are exact in fixed-width wrapping arithmetic
/// (the low bits of `x*10 + d` depend only on the low bits of `x`).
enum LowBits {
    /// Up to 128 bits: no allocation.
    Small(u128),
    /// 64-bit limbs, least significant first.
    Big(Vec<u64>),
}

impl LowBits {
    /// The low `bits` bits of `digits`; `None` unless all ASCII digits.
    fn parse(digits: &str, bits: usize) -> Option<Self> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if bits <= 128 {
            let value = digits.bytes().fold(0u128, |acc, d| {
                acc.wrapping_mul(10).wrapping_add(u128::from(d - b'0'))
            });
            return Some(Self::Small(value));
        }
        let mut limbs = vec![0u64; bits.div_ceil(64)];
        for d in digits.bytes() {
            let mut carry = u128::from(d - b'0');
            for limb in &mut limbs {
                let x = u128::from(*limb) * 10 + carry;
                #[allow(clippy::cast_possible_truncation)] // keeping the low 64 bits is the point
                {
                    *limb = x as u64;
                }
                carry = x >> 64;
            }
        }
        Some(Self::Big(limbs))
    }

    fn is_set(&self, i: usize) -> bool {
        match self {
            Self::Small(v) => i < 128 && (v >> i) & 1 == 1,
            Self::Big(limbs) => limbs.get(i / 64).is_some_and(|l| (l >> (i % 64)) & 1 == 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_big_paths_agree() {
        // 2^100 + 2^3 + 1
        let n = "1267650600228229401496703205385";
        for bits in [8, 128, 129, 300] {
            let b = LowBits::parse(n, bits).unwrap();
            for i in 0..bits.min(128) {
                assert_eq!(b.is_set(i), [0, 3, 100].contains(&i), "bit {i} of {bits}");
            }
        }
        assert!(LowBits::parse("", 8).is_none());
        assert!(LowBits::parse("-1", 8).is_none());
        assert!(LowBits::parse("1 2", 8).is_none());
        assert!(LowBits::parse("+1", 8).is_none());
    }

    #[test]
    fn pairs_by_position_or_with_org_features() {
        assert_eq!(
            v2_permissions("read,write", "1,2", "o:a,u:b"),
            ["org:a:read", "org:b:write"]
        );
        assert_eq!(
            v2_permissions("read,write", "3", "u:x,o:a"),
            ["org:a:read", "org:a:write"]
        );
        assert!(v2_permissions("read", "1", "").is_empty());
    }

    #[test]
    fn more_than_128_permissions() {
        let names: Vec<String> = (0..200).map(|i| format!("p{i}")).collect();
        // 2^150 = 1427247692705959881058285969449495136382746624
        let got = v2_permissions(
            &names.join(","),
            "1427247692705959881058285969449495136382746624",
            "o:f",
        );
        assert_eq!(got, ["org:f:p150"]);
    }
}
