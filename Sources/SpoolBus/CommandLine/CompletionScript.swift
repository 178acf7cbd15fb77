/// Shell completion scripts, made from the command tables: every subcommand, its options, and
/// for each argument or option value what `ValueKind` says (folders, files, fixed words, the
/// spool's dead letters). A command or option added to a table completes without more work.
///
/// Dead-letter names are the spool's, so a producer chose them: `spoolbus dead --names` prints
/// them quoted as a shell reads them, and the scripts compare them with the word typed and insert
/// them as printed, never letting the shell expand one (bash's `compgen -W` would).
enum CompletionScript {
    static let shells = ["bash", "zsh"]

    /// What a `commands` value offers: the subcommands, and the help topic `rules`.
    static func topics(_ commands: [CommandSpec]) -> [String] { commands.map(\.name) + [HelpCommand.rulesTopic] }

    /// For bash (with or without the bash-completion package): `source` it, or put it in
    /// `…/bash-completion/completions/spoolbus`.
    static func bash(_ commands: [CommandSpec], topLevel: CommandSpec) -> String {
        var script = #"""
            # bash completion for spoolbus, made by `spoolbus completion bash` from its command tables.

            # The dead letters whose names start with $1, from `spoolbus dead --names` on the spool the
            # command line names (already quoted for the shell); matched here, never expanded. $1 may
            # be the start of the name as printed, or of the name itself unquoted: each printed form
            # ('…' or $'…') is undone by text substitution and printf %b, never by eval.
            _spoolbus_dead_letters() {
                local name raw i
                local -a spool=()
                for ((i = 2; i < ${#COMP_WORDS[@]}; i++)); do
                    if [[ ${COMP_WORDS[i]} == --spool ]]; then
                        if [[ ${COMP_WORDS[i+1]} == = ]]; then spool=(--spool "${COMP_WORDS[i+2]}"); else spool=(--spool "${COMP_WORDS[i+1]}"); fi
                    fi
                done
                while IFS= read -r name; do
                    raw=$name
                    if [[ $name == \$\'*\' ]]; then
                        raw=${name:2:${#name}-3}
                        # Every ' inside is escaped as \'; %b knows \x27, not \'.
                        printf -v raw '%b' "${raw//\\\'/\\x27}"
                    elif [[ $name == \'*\' ]]; then
                        raw=${name:1:${#name}-2}
                        raw=${raw//\'\\\'\'/\'}
                    fi
                    [[ $name == "$1"* || $raw == "$1"* ]] && COMPREPLY+=("$name")
                done < <(command "${COMP_WORDS[0]}" dead --names "${spool[@]}" 2>/dev/null)
            }

            # How many positional words come before the current one, after the command at $1; $2 lists
            # the options that take a value (the next word, or `=` and the next word).
            _spoolbus_position() {
                local n=0 j word skip= ended=
                for ((j = $1 + 1; j < COMP_CWORD; j++)); do
                    word=${COMP_WORDS[j]}
                    if [[ -n $skip ]]; then skip=; [[ $word == = ]] && skip=1; continue; fi
                    if [[ -z $ended && $word == -- ]]; then ended=1; continue; fi
                    if [[ -z $ended && $word == -* ]]; then [[ " $2 " == *" $word "* ]] && skip=1; continue; fi
                    n=$((n + 1))
                done
                echo "$n"
            }

            _spoolbus() {
                local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command= at i
                COMPREPLY=()
                [[ $prev == = ]] && prev=${COMP_WORDS[COMP_CWORD-2]}
                [[ $cur == = ]] && cur=
                for ((i = 1; i < COMP_CWORD; i++)); do
                    if [[ ${COMP_WORDS[i]} != -* ]]; then command=${COMP_WORDS[i]}; at=$i; break; fi
                done
                case $command in

            """#
        let topWords = commands.map(\.name) + topLevel.allOptions.flatMap(optionWords)
        script += "        \"\") mapfile -t COMPREPLY < <(compgen -W \(shellWords(topWords)) -- \"$cur\") ;;\n"
        for command in commands {
            let valued = command.options.filter { !$0.isFlag }
            script += "        \(command.name))\n"
            if !valued.isEmpty {
                script += "            case $prev in\n"
                for option in valued {
                    script += "                --\(option.name)) \(bashAction(option.values, commands)); return ;;\n"
                }
                script += "            esac\n"
            }
            script += "            if [[ $cur == -* ]]; then\n"
            script += "                mapfile -t COMPREPLY < <(compgen -W \(shellWords(command.allOptions.flatMap(optionWords))) -- \"$cur\")\n"
            script += "                return\n"
            script += "            fi\n"
            if !command.arguments.isEmpty {
                script += "            case $(_spoolbus_position \"$at\" \(shellWords(valued.map { "--" + $0.name }))) in\n"
                for (index, argument) in command.arguments.enumerated() {
                    let label = argument.isRepeating ? "*" : String(index)
                    script += "                \(label)) \(bashAction(argument.values, commands)) ;;\n"
                }
                script += "            esac\n"
            }
            script += "            ;;\n"
        }
        script += #"""
                esac
            }
            complete -F _spoolbus spoolbus

            """#
        return script
    }

    /// For zsh: put it as `_spoolbus` in a folder of `$fpath`.
    static func zsh(_ commands: [CommandSpec], topLevel: CommandSpec) -> String {
        var script = #"""
            #compdef spoolbus
            # zsh completion for spoolbus, made by `spoolbus completion zsh` from its command tables.

            # The spool's dead letters, from `spoolbus dead --names` on the spool the command line names
            # (already quoted for the shell, hence -Q).
            _spoolbus_dead_letters() {
                local -a names spool
                local i=${words[(I)--spool]}
                (( i )) && spool=(--spool "${words[i+1]}")
                names=("${(@f)$(_call_program dead-letters "${(q)words[1]}" dead --names "${(q@)spool}" 2>/dev/null)}")
                compadd -Q -a names
            }

            _spoolbus() {
                local -a commands
                commands=(

            """#
        for command in commands {
            script += "        \(zshQuoted(command.name + ":" + zshDescription(command.abstract)))\n"
        }
        script += "    )\n"
        script += "    if (( CURRENT == 2 )); then\n"
        script += "        _describe -t commands 'spoolbus command' commands\n"
        script += "        _arguments \(topLevel.allOptions.map(zshOption).joined(separator: " "))\n"
        script += "        return\n"
        script += "    fi\n"
        script += "    local command=$words[2]\n"
        script += "    shift words\n"
        script += "    (( CURRENT-- ))\n"
        script += "    case $command in\n"
        for command in commands {
            var specs = command.allOptions.map(zshOption)
            for (index, argument) in command.arguments.enumerated() {
                let action = zshAction(argument.values, commands)
                if argument.isRepeating {
                    specs.append(zshQuoted("*:" + argument.name + ":" + action))
                } else {
                    specs.append(zshQuoted("\(index + 1):" + (argument.isOptional ? ":" : "") + argument.name + ":" + action))
                }
            }
            script += "        \(command.name)) _arguments -s \(specs.joined(separator: " ")) ;;\n"
        }
        script += "    esac\n}\n\n_spoolbus \"$@\"\n"
        return script
    }

    // MARK: Pieces

    private static func optionWords(_ option: OptionSpec) -> [String] {
        (option.short.map { ["-\($0)"] } ?? []) + ["--" + option.name]
    }

    /// Words for `compgen -W`: ours are plain (command and option names, event names), quoted
    /// once so the shell passes them as one list.
    private static func shellWords(_ words: [String]) -> String {
        "'" + words.joined(separator: " ") + "'"
    }

    private static func bashAction(_ values: ValueKind, _ commands: [CommandSpec]) -> String {
        switch values {
        case .directories: return "compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- \"$cur\")"
        case .files: return "compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- \"$cur\")"
        case .words(let words): return "mapfile -t COMPREPLY < <(compgen -W \(shellWords(words)) -- \"$cur\")"
        case .commands: return "mapfile -t COMPREPLY < <(compgen -W \(shellWords(topics(commands))) -- \"$cur\")"
        case .deadLetters: return "_spoolbus_dead_letters \"$cur\""
        case .anything: return ":"
        }
    }

    private static func zshAction(_ values: ValueKind, _ commands: [CommandSpec]) -> String {
        switch values {
        case .directories: return "_files -/"
        case .files: return "_files"
        case .words(let words): return "(" + words.joined(separator: " ") + ")"
        case .commands: return "(" + topics(commands).joined(separator: " ") + ")"
        case .deadLetters: return "_spoolbus_dead_letters"
        case .anything: return " "
        }
    }

    /// `'--spool=[The spool folder.]:DIR:_files -/'` or `'(-h --help)'{-h,--help}'[…]'`.
    private static func zshOption(_ option: OptionSpec) -> String {
        let description = "[" + zshDescription(option.help) + "]"
        let value = option.valueName.map { ":" + zshValueName($0) + ":" + zshAction(option.values, []) } ?? ""
        let repeatable = option.help.contains("Repeatable") ? "*" : ""
        if let short = option.short {
            return zshQuoted("(-\(short) --\(option.name))") + "{-\(short),--\(option.name)}" + zshQuoted(description + value)
        }
        return zshQuoted(repeatable + "--" + option.name + (option.isFlag ? "" : "=") + description + value)
    }

    /// A description inside `[…]` of an `_arguments` spec, or after `:` in `_describe`: no
    /// brackets or colons, which would end it.
    private static func zshDescription(_ text: String) -> String {
        String(text.map { "[]:".contains($0) ? " " : $0 })
    }

    private static func zshValueName(_ name: String) -> String {
        String(name.map { ":".contains($0) ? " " : $0 })
    }

    /// `text` in single quotes for zsh.
    private static func zshQuoted(_ text: String) -> String {
        "'" + text.replacingAll("'", with: "'\\''") + "'"
    }
}
