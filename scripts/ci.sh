# Sourced by the other scripts (not run): the one bash definition of "this run is CI".
# `CI` set to `true`, `1` or `yes`, in any letter case, means CI; tests/it/support.rs
# (`in_ci`) and clients/python/tests/conftest.py (`in_ci`) say the same for Rust and Python.
in_ci() {
  case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
    true | 1 | yes) return 0 ;;
    *) return 1 ;;
  esac
}
