import BerthCommands

await BerthCommand.runMain()
