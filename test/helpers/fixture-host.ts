// The made-up Mac every fixture compiles on, so goldens never depend on who runs the tests.

export const FIXTURE_HOME = '/Users/owner';
/** Fixture paths are relative to this, so the policy lives in ~/.config/nanopolicy/test/fixtures/… */
export const FIXTURE_CWD = '/Users/owner/.config/nanopolicy';
