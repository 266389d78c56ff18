//! Idempotency: a second apply changes nothing, and a plan after apply is all no-op.

use crate::common::{World, tree};

#[test]
fn second_apply_changes_nothing() {
    let world = World::all_types();
    let first = world.apply();
    assert!(
        first
            .stdout
            .contains("Recap: 8 changed, 0 unchanged, 0 failed, 0 skipped."),
        "{}",
        first.all()
    );
    let after_first = tree(&world.root);
    let second = world.apply();
    assert!(
        second
            .stdout
            .contains("Recap: 0 changed, 8 unchanged, 0 failed, 0 skipped."),
        "{}",
        second.all()
    );
    assert_eq!(
        after_first,
        tree(&world.root),
        "the second apply touched the tree"
    );
}

#[test]
fn plan_after_apply_is_all_no_op() {
    let world = World::all_types();
    world.apply();
    world.assert_converged();
}

#[test]
fn execute_of_a_plan_then_a_new_plan_is_all_no_op() {
    let world = World::all_types();
    let (plan, _) = world.plan();
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    world.assert_converged();
}
