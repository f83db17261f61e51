//! The rule families, one file each: `fold/` (constant arithmetic into convolutions), `simplify/`
//! (canonical forms), `recognize/` (decomposed activations), `fuse/` (what the MAC array applies on its way
//! out; `chain.rs`: elementwise chains as one vector pass) and `place/` (tile or host). No general commutativity or associativity rules: matchers look at both
//! operand orders and at product groupings themselves, which keeps the e-graph small.
mod chain;
mod fold;
mod fuse;
mod integer;
mod place;
mod recognize;
mod simplify;

use super::analysis::Ctx;
use super::lang::ENode;
use super::rule::{rewrite, Rule};
use egg::Rewrite;

/// A rule wrapped for egg (or why it could not be).
pub type Any = Result<Rewrite<ENode, Ctx>, String>;

fn any<M: 'static>(rule: Rule<M>) -> Any {
    rewrite(rule)
}

/// Every rule, in a fixed order (the order rules apply in one iteration).
pub fn all() -> Vec<Any> {
    let mut v = simplify::rules();
    v.extend(integer::rules());
    v.extend(fold::rules());
    v.extend(recognize::rules());
    v.extend(fuse::rules());
    v.extend(chain::rules());
    v.extend(place::rules());
    v
}
