public enum PDockerEngine {}
