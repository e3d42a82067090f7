#!/usr/bin/env node
// `shoal lab` on its own, until cli/main.ts registers it (then dist/cli/main.js lab … is the same).
import { Command } from "commander";
import { registerLab } from "../cli/commands/lab.js";

const program = new Command("shoal").enablePositionalOptions();
registerLab(program);
await program.parseAsync(process.argv);
