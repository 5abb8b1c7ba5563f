package serial

// constError is an error whose value is its message. The package's
// sentinel errors have this type: a package-level error of it is laid out
// as data by the linker, where errors.New runs at init (about 70 bytes of
// code each). Being comparable, it works with errors.Is as errors.New's
// errors do.
type constError string

func (e constError) Error() string { return string(e) }
