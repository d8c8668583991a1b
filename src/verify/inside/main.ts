// The probe that runs inside the VM: filled in by the verify work.
export {};
