enum SDKPlaceholder {}
