/** One comparison between two players (systems): who won, or a tie. */
export interface Battle {
  /** First player. */
  model1: string;
  /** Second player. */
  model2: string;
  /** Outcome. */
  winner: 'model1' | 'model2' | 'tie';
}

/** Win, tie and loss counts of one player against another. */
export interface WinTieLoss {
  /** Battles won. */
  wins: number;
  /** Battles tied. */
  ties: number;
  /** Battles lost. */
  losses: number;
}

/** Win/tie/loss counts of `player` against `opponent` over `battles`. */
export function winTieLoss(battles: readonly Battle[], player: string, opponent: string): WinTieLoss {
  const out = { wins: 0, ties: 0, losses: 0 };
  for (const b of battles) {
    let side: 1 | 2;
    if (b.model1 === player && b.model2 === opponent) side = 1;
    else if (b.model2 === player && b.model1 === opponent) side = 2;
    else continue;
    if (b.winner === 'tie') out.ties++;
    else if ((b.winner === 'model1') === (side === 1)) out.wins++;
    else out.losses++;
  }
  return out;
}

/** The players of `battles` in order of first appearance. */
export function playersOf(battles: readonly Battle[]): string[] {
  const seen = new Set<string>();
  for (const b of battles) {
    seen.add(b.model1);
    seen.add(b.model2);
  }
  return [...seen];
}
