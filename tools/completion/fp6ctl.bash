# shellcheck shell=bash
# Bash completion for fp6ctl. The words come from fp6ctl itself
# (`fp6ctl --complete WORDS...`, from the same grammar table that parses
# commands), so this file never needs to change when a command is added.
# Live names (ports, addresses) come from fp6d when it answers within a
# second on the --socket given on the line, or the default one.
#
# Installed as share/bash-completion/completions/fp6ctl; to try it from the
# source tree: `. tools/completion/fp6ctl.bash`.

_fp6ctl() {
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    # Split on blanks only: IPv6 addresses hold ':', which bash's own word
    # split (COMP_WORDS) breaks apart.
    read -ra words <<<"$line"
    if [[ ${#words[@]} -eq 0 || $line == *[[:blank:]] ]]; then
        words+=("")
    fi
    local cur=${words[-1]} prev=
    if [[ ${#words[@]} -ge 2 ]]; then
        prev=${words[-2]}
    fi
    case $prev in
    -f | --file | --socket)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    --timeout)
        COMPREPLY=()
        return
        ;;
    esac
    local ctl=${words[0]}
    [[ $ctl == */* && -x $ctl ]] || ctl=fp6ctl
    mapfile -t COMPREPLY < <(command "$ctl" --complete "${words[@]:1}" 2>/dev/null)
    # Bash replaces only the part of the word after its last ':' (a
    # COMP_WORDBREAKS character), so hand it only that part.
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local strip=${cur%"${cur##*:}"}
        COMPREPLY=("${COMPREPLY[@]#"$strip"}")
    fi
}

complete -F _fp6ctl fp6ctl
