public enum PBerthCommands {}
