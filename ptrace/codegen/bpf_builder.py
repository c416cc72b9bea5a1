"""A BPF-aware IR builder for one program: the IR idioms the lowering uses.

- Every program is `i64 @name(ptr %ctx)`, `nounwind`, in its own section.
- Stack memory is allocated in the entry block and zeroed there, because the
  verifier rejects reads of uninitialised stack.
- Memory too large for the 512-byte stack comes from a per-CPU scratch map
  (one lookup in the entry block); its slots are not zeroed, so users that
  need zeros (`fresh_memory(zeroed=True)`) clear them at the point of use.
- Maps are referred to by index (`llvm.bpf.pseudo(1, index)`); the loader
  replaces each index with the map's fd.
- Loops the lowering writes itself (over the bytes of a string, over the
  CPUs) are `counted_loop` and `search_loop`: their counter is an SSA value
  bounded by a constant, so the verifier follows it iteration by iteration.
  Byte comparisons are `strings_equal` (up to a NUL), `words_equal` (a fixed
  size, 8 bytes at a time) and `bytes_equal` (against constant bytes at any
  alignment, without branches).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llvmlite import ir

from ptrace.bpf_abi import BPF_PSEUDO_BTF_ID, BPF_PSEUDO_MAP_FD
from ptrace.codegen.code_size import CodeBudget
from ptrace.codegen.helpers import MAX_HELPER_ID, Helper

I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
I1 = ir.IntType(1)
PTR = ir.PointerType()

# Allocations up to this size go on the stack while the stack has room
# (the on_stack_limit setting; ptrace.options has the default).
STACK_OBJECT_LIMIT = 128
STACK_BUDGET = 384
# Slots and values together stay under this, leaving LLVM 64 bytes of spills.
STACK_LIMIT = 448
# A program with callbacks keeps its own frame under MAP_LOOP_STACK_LIMIT so
# that a callback's frame (at most CALLBACK_STACK_LIMIT) fits beside it.
MAP_LOOP_STACK_BUDGET = 256
MAP_LOOP_STACK_LIMIT = 320
CALLBACK_STACK_LIMIT = 96


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value & 0xFFFFFFFFFFFFFFFF)


class ProgramBuilder:
    """Builds the function of one BPF program."""

    def __init__(self, module: ir.Module, name: str, section: str, scratch_map: int,
                 stack_budget: int = STACK_BUDGET, params: int = 1,
                 stack_limit: int = STACK_LIMIT, object_limit: int = STACK_OBJECT_LIMIT):
        self.module = module
        fnty = ir.FunctionType(I64, [PTR] * params)
        self.function = ir.Function(module, fnty, name)
        self.function.attributes.add("nounwind")
        self.function.section = section
        self.ctx: ir.Value = self.function.args[-1]
        self.entry = self.function.append_basic_block("entry")
        self.body = self.function.append_basic_block("body")
        self._entry_builder = ir.IRBuilder(self.entry)
        self.b = ir.IRBuilder(self.body)
        self._stack_used = 0
        self._stack_budget = stack_budget  # for values (fresh_memory)
        self._stack_limit = stack_limit  # for everything (slots too)
        self._object_limit = object_limit  # for one value
        self._scratch_map = scratch_map
        self._scratch_base: ir.Value | None = None
        self.scratch_size = 0  # bytes of scratch this program uses
        self._ctx_reads: dict[tuple[int, int], ir.Value] = {}  # (offset, size) → value
        # Stack memory (size, pointer) of the values of the statements being
        # lowered, of the variables of the scopes open, and free memory: of
        # finished statements and closed scopes, for the next ones to reuse.
        self._temporaries: list[tuple[int, ir.Value]] = []
        self._variables: list[tuple[int, ir.Value]] = []
        self._free: list[tuple[int, ir.Value]] = []
        self.loop_depth = 0  # > 0 while lowering code that may run more than once
        self._opaque_count = 0  # sequence numbers of llvm.bpf.passthrough calls
        self._in_scratch: set[int] = set()  # ids of the values' pointers into scratch
        self.kfuncs: set[int] = set()  # BTF ids of the kernel functions it calls
        self.budget: CodeBudget | None = None  # the module's, counting what `b` writes

    def count_with(self, budget: CodeBudget) -> None:
        """What this program's body and its callbacks' write counts in `budget`."""
        self.budget = budget
        self.b = budget.builder(self.body)

    def callback(self, name: str, params: int) -> ProgramBuilder:
        """A builder for a callback of this program (bpf_for_each_map_elem's
        `long cb(map, key, value, ctx)`, bpf_loop's `long cb(index, ctx)`), in
        the same section, after it.

        The callback's frame adds to the program's on the 512-byte stack, so
        its values all go to scratch, after the part the program has used.
        Its `ctx` is the callback's context argument until the caller sets it.
        """
        child = ProgramBuilder(self.module, name, self.function.section, self._scratch_map,
                               stack_budget=0, params=params, stack_limit=CALLBACK_STACK_LIMIT)
        child.function.linkage = "internal"
        child.scratch_size = self.scratch_size
        child._opaque_count = self._opaque_count + 10000 * len(self.module.functions)
        child.kfuncs = self.kfuncs
        if self.budget is not None:
            child.count_with(self.budget)
        return child

    def entry_address(self, base: ir.Value, offset: int) -> ir.Value:
        """`base + offset`, computed once in the entry block."""
        if offset == 0:
            return base
        return _opaque(self._entry_builder.gep(base, [i64(offset)], inbounds=True,
                                               source_etype=I8))

    def entry_pointer(self, base: ir.Value, offset: int) -> ir.Value:
        """The pointer stored at `base + offset`, read once in the entry block."""
        return self._entry_builder.load(self.entry_address(base, offset), typ=PTR, align=8)

    # ---- memory ----
    def slot(self, ty: ir.Type, name: str = "", stack_only: bool = False) -> ir.Value:
        """A stack slot of LLVM type `ty`, allocated and zeroed in the entry block.

        The zeroing follows the alloca at once, so it precedes every use, even
        uses placed in the entry block itself (the scratch lookup). Privileged
        programs may read uninitialised stack, so the verifier would not catch
        a late zeroing: it would just use garbage.

        Past the stack limit (which leaves LLVM room for its own spills: it
        aborts the whole process when a frame passes 512 bytes), a slot comes
        from scratch instead, zeroed where it is allocated; `stack_only` slots
        (a callback's context) never do.
        """
        size = (_llvm_size(ty) + 7) & ~7
        if not stack_only and self._stack_used + size > self._stack_limit:
            return self._scratch_memory(size, zeroed=True)
        eb = self._entry_builder
        slot = eb.alloca(ty, name=name)
        slot.align = 8
        self._stack_used += size
        ptr = _opaque(slot)
        if isinstance(ty, ir.IntType):
            eb.store(ir.Constant(ty, 0), ptr)
        else:
            _mem_intrinsic(eb, "llvm.memset", [ptr], size)
        return ptr

    def fresh_memory(self, size: int, zeroed: bool = True, variable: bool = False) -> ir.Value:
        """`size` bytes (8-aligned) for one value: on the stack if small, else scratch.

        The memory of a value lives until the end of the statement being
        lowered, a `variable`'s until the end of its scope; later statements
        reuse the stack memory (see `statement` and `scope`). New stack memory
        is zeroed once in the entry block; memory that is reused, or used in a
        loop, or from scratch is zeroed here, at the point of use, when
        `zeroed` is set.
        """
        size = max(8, (size + 7) & ~7)
        if size <= self._object_limit:
            reused = self._reuse(size)
            if reused is not None or self._stack_used + size <= self._stack_budget:
                ptr = reused or self.slot(ir.ArrayType(I64, size // 8))
                (self._variables if variable else self._temporaries).append((size, ptr))
                if zeroed and (reused is not None or self.loop_depth):
                    self.memset(ptr, size)
                return ptr
        return self._scratch_memory(size, zeroed)

    def variable_slot(self) -> ir.Value:
        """8 bytes for an integer variable (not zeroed), until the end of its scope.

        Integers take the stack before strings and tuples do: a loop whose
        counter lived in scratch (map memory) could not be bounded by the verifier.
        """
        ptr = self._reuse(8) or self.slot(I64)
        self._variables.append((8, ptr))
        return ptr

    def _reuse(self, size: int) -> ir.Value | None:
        """The smallest free temporary of at least `size` bytes (taken off the list)."""
        fits = [i for i, (have, _) in enumerate(self._free) if have >= size]
        if not fits:
            return None
        best = min(fits, key=lambda i: self._free[i][0])
        have, ptr = self._free.pop(best)
        if have > size:  # the rest stays free
            self._free.append((have - size, self.entry_address(ptr, size)))
        return ptr

    def statement(self) -> int:
        """Mark the start of a statement: its temporaries are those after the mark."""
        return len(self._temporaries)

    def end_statement(self, mark: int) -> None:
        """The statement begun at `mark` is lowered: its values' memory is free again."""
        self._free.extend(self._temporaries[mark:])
        del self._temporaries[mark:]

    def scope(self) -> int:
        """Mark the start of a scope: its variables are those declared after the mark."""
        return len(self._variables)

    def end_scope(self, mark: int) -> None:
        """The scope begun at `mark` is closed. Its variables' memory is free once
        the statement around it ends: a block expression's value may be one of
        them (`{ $a = comm; $a }`), and the statement still uses it."""
        self._temporaries.extend(self._variables[mark:])
        del self._variables[mark:]

    def _scratch_memory(self, size: int, zeroed: bool) -> ir.Value:
        ptr = self.offset(self._scratch(), self.scratch_size)
        if self.scratch_size >= _NEAR:
            ptr = _far(self.b, ptr)
        self._in_scratch.add(id(ptr))
        self.scratch_size += size
        if zeroed:
            self.memset(ptr, size)
        return ptr

    def alignment(self, ptr: ir.Value, offset: int) -> int:
        """What LLVM may take `ptr + offset` (ptr 8-aligned) to be aligned to.
        In scratch, a map value, the verifier allows any alignment where the
        CPU does (x86-64, arm64), so 8 is claimed: a string at an odd offset in
        a tuple is copied 8 bytes at a time, not byte by byte. On the stack the
        verifier requires the real alignment."""
        if id(ptr) in self._in_scratch:
            return 8
        return min(offset & -offset, 8) if offset else 8

    def _scratch(self) -> ir.Value:
        if self._scratch_base is None:
            # The scratch map holds an entry for each CPU: this CPU's.
            key = self.slot(I32, name="scratch_key", stack_only=True)
            cpu = self._helper(self._entry_builder, Helper.GET_SMP_PROCESSOR_ID, I64, [])
            self._entry_builder.store(self._entry_builder.trunc(cpu, I32), key)
            mapp = self._map_ptr(self._entry_builder, self._scratch_map)
            self._scratch_base = self._helper(self._entry_builder, Helper.MAP_LOOKUP_ELEM, PTR,
                                              [mapp, key])
        return self._scratch_base

    def memset(self, ptr: ir.Value, size: int, align: int = 8) -> None:
        _mem_intrinsic(self.b, "llvm.memset", [ptr], size, [align])

    def memcpy(self, dst: ir.Value, src: ir.Value, size: int, src_align: int = 8,
               dst_align: int = 8) -> None:
        """Copy `size` bytes; `src_align` and `dst_align` are what the addresses
        are known to be multiples of (the verifier refuses a misaligned stack
        access, so LLVM must not use wider loads or stores there)."""
        _mem_intrinsic(self.b, "llvm.memcpy", [dst, src], size, [dst_align, src_align])

    def offset(self, ptr: ir.Value, offset: int) -> ir.Value:
        if offset == 0:
            return ptr
        return _opaque(self.b.gep(ptr, [i64(offset)], inbounds=True, source_etype=I8))

    def store64(self, value: ir.Value, ptr: ir.Value, offset: int = 0) -> None:
        self.b.store(value, self.offset(ptr, offset), align=8)

    def store_bytes(self, data: bytes, ptr: ir.Value) -> None:
        """`data` (a multiple of 8 bytes) written to `ptr` in 8-byte stores. Past
        _MERGE_SAFE_MEMSET bytes the stores are volatile: LLVM would make a run
        of equal stores (a literal of one repeated character) into a memset
        that the backend cannot expand."""
        volatile = len(data) > _MERGE_SAFE_MEMSET
        for off in range(0, len(data), 8):
            value = i64(int.from_bytes(data[off:off + 8], "little"))
            if volatile:
                store = _VolatileStore(self.b.block, value, self.offset(ptr, off))
                store.align = 8
                self.b._insert(store)
            else:
                self.store64(value, ptr, off)

    def load64(self, ptr: ir.Value, offset: int = 0) -> ir.Value:
        return self.b.load(self.offset(ptr, offset), typ=I64, align=8)

    def ctx_load(self, offset: int, size: int = 8) -> ir.Value:
        """`size` bytes of the program's context at a constant offset, zero-extended.

        The verifier accepts a ctx read only as `*(ctx + constant)`. LLVM would
        otherwise compute `ctx + offset` once for reads in two branches and keep
        it in a register, which the verifier rejects. So each field is read
        once, in the entry block (the context does not change during a run of
        the program), from its own `llvm.bpf.passthrough(ctx)` (opaque to the
        optimiser, removed by the BPF backend before instruction selection),
        with a volatile load that stays where it is put.
        """
        cached = self._ctx_reads.get((offset, size))
        if cached is not None:
            return cached
        eb = self._entry_builder
        passthrough = self.module.globals.get("llvm.bpf.passthrough.p0.p0")
        if passthrough is None:
            passthrough = ir.Function(self.module, ir.FunctionType(PTR, [I32, PTR]),
                                      "llvm.bpf.passthrough.p0.p0")
        base = eb.call(passthrough, [ir.Constant(I32, len(self._ctx_reads) + 1), self.ctx])
        address = _opaque(eb.gep(base, [i64(offset)], inbounds=True, source_etype=I8))
        load = _VolatileLoad(eb.block, address, typ=ir.IntType(size * 8))
        load.align = size
        eb._insert(load)  # IRBuilder.load has no volatile flag
        value = load if size == 8 else eb.zext(load, I64)
        self._ctx_reads[(offset, size)] = value
        return value

    def opaque(self, value: ir.Value) -> ir.Value:
        """`value` through `llvm.bpf.passthrough`: the optimiser cannot see what it
        was computed from, so it cannot rewrite the computation into compares
        (each of which is a branch in BPF, where there is no set-on-compare)."""
        name = "llvm.bpf.passthrough.i64.i64"
        passthrough = self.module.globals.get(name)
        if passthrough is None:
            passthrough = ir.Function(self.module, ir.FunctionType(I64, [I32, I64]), name)
        self._opaque_count += 1
        return self.b.call(passthrough, [ir.Constant(I32, 1000 + self._opaque_count), value])

    # ---- helpers and maps ----
    def helper(self, helper: Helper, ret: ir.Type, args: list[ir.Value]) -> ir.Value:
        return self._helper(self.b, helper, ret, args)

    @staticmethod
    def _helper(builder: ir.IRBuilder, helper: Helper, ret: ir.Type,
                args: list[ir.Value]) -> ir.Value:
        fnty = ir.FunctionType(ret, [a.type for a in args])
        callee = ir.Constant(I64, int(helper)).inttoptr(PTR)
        callee.function_type = fnty
        return builder.call(callee, args)

    def kfunc(self, btf_id: int, ret: ir.Type, args: list[ir.Value]) -> ir.Value:
        """A call of the kernel function (kfunc) of vmlinux BTF id `btf_id`: made
        as a helper call numbered by the id, which `mark_kfunc_calls` turns
        into a kfunc call once compiled."""
        if btf_id <= MAX_HELPER_ID:
            raise RuntimeError(f"internal error: kfunc id {btf_id} is a helper's")
        self.kfuncs.add(btf_id)
        fnty = ir.FunctionType(ret, [a.type for a in args])
        callee = ir.Constant(I64, btf_id).inttoptr(PTR)
        callee.function_type = fnty
        return self.b.call(callee, args)

    def map_ptr(self, index: int) -> ir.Value:
        return self._map_ptr(self.b, index)

    def _map_ptr(self, builder: ir.IRBuilder, index: int) -> ir.Value:
        return builder.inttoptr(self._pseudo(builder, BPF_PSEUDO_MAP_FD, index), PTR)

    def kernel_variable(self, btf_id: int) -> ir.Value:
        """The address of the kernel variable of vmlinux BTF id `btf_id` (a per-CPU
        one's address in the per-CPU area, for bpf_per_cpu_ptr)."""
        return self.b.inttoptr(self._pseudo(self.b, BPF_PSEUDO_BTF_ID, btf_id), PTR)

    def _pseudo(self, builder: ir.IRBuilder, kind: int, value: int) -> ir.Value:
        """An ld_imm64 of src_reg `kind` and imm `value`, which the kernel resolves."""
        pseudo = self.module.globals.get("llvm.bpf.pseudo")
        if pseudo is None:
            pseudo = ir.Function(self.module, ir.FunctionType(I64, [I64, I64]),
                                 "llvm.bpf.pseudo")
        return builder.call(pseudo, [i64(kind), i64(value)])

    # ---- control flow ----
    def block(self, name: str) -> ir.Block:
        return self.function.append_basic_block(name)

    def if_nonnull(self, ptr: ir.Value, name: str) -> tuple[ir.Block, ir.Block, ir.Block]:
        """Branch on `ptr != null`: returns (then, else, merge) blocks; builder at none."""
        then = self.block(f"{name}.found")
        orelse = self.block(f"{name}.missing")
        merge = self.block(f"{name}.end")
        isnull = self.b.icmp_unsigned("==", ptr, ir.Constant(PTR, None))
        self.b.cbranch(isnull, orelse, then)
        return then, orelse, merge

    def load64_or_zero(self, ptr: ir.Value, name: str) -> ir.Value:
        """The 8 bytes at `ptr` (a map lookup's result), or 0 where it is null."""
        nonnull = self.b.icmp_unsigned("!=", ptr, ir.Constant(PTR, None))
        return self.value_or_zero(nonnull, lambda: self.load64(ptr), name)

    def value_or_zero(self, condition: ir.Value, compute: Callable[[], ir.Value],
                      name: str) -> ir.Value:
        """`compute()` where `condition` holds, else 0: the code that computes it
        runs only on that branch (a read the verifier must see guarded)."""
        start = self.b.block
        then, merge = self.block(f"{name}.then"), self.block(f"{name}.end")
        self.b.cbranch(condition, then, merge)
        self.b.position_at_end(then)
        value = compute()
        computed = self.b.block
        self.b.branch(merge)
        self.b.position_at_end(merge)
        phi = self.b.phi(I64)
        phi.add_incoming(value, computed)
        phi.add_incoming(i64(0), start)
        return phi

    # ---- loops ----
    def counted_loop(self, name: str, count: int,
                     body: Callable[[ir.Value, list[ir.Value]], Sequence[ir.Value]],
                     initial: Sequence[ir.Value] = (),
                     limit: ir.Value | None = None) -> list[ir.Value]:
        """`for index in range(count)`, stopping early at `limit` (a value known
        only at run time) when one is given. `body(index, values)` lowers one
        iteration at the builder's position and returns the next `values`
        (loop-carried, starting from `initial`). Returns the values after the
        last iteration; the builder is left after the loop.

        `count` (at least 1) is a constant: the verifier bounds the loop by it,
        following the counter (a register it knows exactly) through each
        iteration. The test is at the bottom, after the body, as LLVM would
        rotate it; only a `limit` is tested before the first iteration too.
        """
        assert count >= 1
        b = self.b
        start = b.block
        loop = self.block(f"{name}.loop")
        b.position_at_end(loop)
        index = b.phi(I64)
        index.add_incoming(i64(0), start)
        values = [b.phi(value.type) for value in initial]
        for phi, value in zip(values, initial, strict=True):
            phi.add_incoming(value, start)
        self.loop_depth += 1
        following = list(body(index, list(values)))
        self.loop_depth -= 1
        latch = b.block
        next_index = b.add(index, i64(1))
        index.add_incoming(next_index, latch)
        for phi, value in zip(values, following, strict=True):
            phi.add_incoming(value, latch)
        more = b.icmp_unsigned("<", next_index, i64(count))
        if limit is not None:
            more = b.and_(b.icmp_unsigned("<", next_index, limit), more)
        # Blocks are laid out in the order they are made: the exit after the
        # body's blocks, where it costs no jumps.
        done = self.block(f"{name}.done")
        b.cbranch(more, loop, done)
        b.position_at_end(start)  # the way in, now that the way out exists
        if limit is None:
            b.branch(loop)
            b.position_at_end(done)
            return following
        b.cbranch(b.icmp_unsigned("<", i64(0), limit), loop, done)
        b.position_at_end(done)
        after = [b.phi(value.type) for value in initial]
        for phi, first, last in zip(after, initial, following, strict=True):
            phi.add_incoming(first, start)
            phi.add_incoming(last, latch)
        return after

    def search_loop(self, name: str, count: int,
                    test: Callable[[ir.Value], tuple[ir.Value, ir.Value]],
                    otherwise: int) -> ir.Value:
        """A value from a `counted_loop` that ends early: `test(index)` gives
        (stop, result) for one index; the value is `result` at the first index
        where `stop` holds, else (after `count` indexes) `otherwise` (a
        constant of result's type: an i1 or an i64)."""
        b = self.b
        exits: list[tuple[ir.Value, ir.Block, ir.Block]] = []  # (result, from, to)

        def body(index: ir.Value, values: list[ir.Value]) -> list[ir.Value]:
            stop, result = test(index)
            going_on, found = self.block(f"{name}.next"), self.block(f"{name}.found")
            exits.append((result, b.block, found))
            b.cbranch(stop, found, going_on)
            b.position_at_end(going_on)
            return values

        self.counted_loop(name, count, body)
        ((result, stopped, found),) = exits  # the body is lowered once
        b.branch(found)
        exhausted = b.block
        b.position_at_end(found)
        value = b.phi(result.type)
        value.add_incoming(result, stopped)
        value.add_incoming(ir.Constant(result.type, int(otherwise)), exhausted)
        return value

    # ---- byte comparisons ----
    def strings_equal(self, left: ir.Value, right: ir.Value, limit: int) -> ir.Value:
        """An i1: whether two strings are equal up to and including their first
        NUL, within `limit` bytes (a byte loop)."""
        b = self.b

        def test(index: ir.Value) -> tuple[ir.Value, ir.Value]:
            lc = b.load(b.gep(left, [index], source_etype=I8), typ=I8)
            rc = b.load(b.gep(right, [index], source_etype=I8), typ=I8)
            differ = b.icmp_unsigned("!=", lc, rc)
            ended = b.icmp_unsigned("==", lc, ir.Constant(I8, 0))
            return b.or_(differ, ended), b.not_(differ)

        return self.search_loop("streq", limit, test, otherwise=True)

    def words_equal(self, left: ir.Value, right: ir.Value | bytes, size: int) -> ir.Value:
        """An i1: whether the first `size` bytes at `left` equal those at `right`
        (an address) or `right` itself (constant bytes), compared 8 at a time:
        both addresses are 8-aligned and the memory of a value is a multiple
        of 8 bytes."""
        b = self.b
        result: ir.Value = ir.Constant(I1, 1)
        for off in range(0, size, 8):
            mask = i64((1 << (8 * min(8, size - off))) - 1)
            word = b.and_(self.load64(left, off), mask)
            if isinstance(right, bytes):
                other: ir.Value = i64(int.from_bytes(right[off:off + 8], "little"))
            else:
                other = b.and_(self.load64(right, off), mask)
            result = b.and_(result, b.icmp_unsigned("==", word, other))
        return result

    def prefixes_equal(self, left: ir.Value, right: ir.Value, length: ir.Value,
                       size: int) -> ir.Value:
        """An i1: whether the first `length` bytes (a run-time value, at most
        `size`) at `left` and `right` are equal, compared 8 at a time (both
        8-aligned, holding `size` bytes rounded up to 8): the bytes of a word
        past `length` are masked off, whatever they hold."""
        b = self.b
        result: ir.Value = ir.Constant(I1, 1)
        for off in range(0, size, 8):
            rest = b.sub(length, i64(off))  # this word's bytes that count: none to all 8
            some = b.sub(b.shl(i64(1), b.shl(rest, i64(3))), i64(1))
            mask = b.select(b.icmp_signed(">=", rest, i64(8)), i64(-1),
                            b.select(b.icmp_signed("<=", rest, i64(0)), i64(0), some))
            word = b.and_(self.load64(left, off), mask)
            other = b.and_(self.load64(right, off), mask)
            result = b.and_(result, b.icmp_unsigned("==", word, other))
        return result

    def bytes_equal(self, ptr: ir.Value, data: bytes) -> ir.Value:
        """An i1: whether the bytes at `ptr` (any alignment) are `data`.

        The bytes that differ are OR-ed together: arithmetic, not a compare per
        byte. BPF has no set-on-compare, so each compare would be a branch, and
        in a loop the verifier walks every combination of them at every
        iteration (an 8-byte literal in a 1024-byte string was too much for it).
        """
        b = self.b
        differ: ir.Value = i64(0)
        for offset, char in enumerate(data):
            byte = b.zext(b.load(b.gep(ptr, [i64(offset)], source_etype=I8), typ=I8), I64)
            differ = b.or_(differ, b.xor(byte, i64(char)))
        return b.icmp_unsigned("==", self.opaque(differ), i64(0))

    def finish(self) -> None:
        """Close the entry block: check the scratch lookup, enter the body."""
        if not self.b.block.is_terminated:
            self.b.ret(i64(0))
        eb = self._entry_builder
        if self._scratch_base is not None:
            bail = self.block("no_scratch")
            ir.IRBuilder(bail).ret(i64(0))
            isnull = eb.icmp_unsigned("==", self._scratch_base, ir.Constant(PTR, None))
            eb.cbranch(isnull, bail, self.body)
        else:
            eb.branch(self.body)


# The BPF backend expands memset/memcpy inline up to 128 stores; with 8-byte
# alignment that is 1024 bytes. Larger ones are split into chunks, and both
# the chunks and every memset over 64 bytes are volatile, because LLVM merges
# adjacent memsets (two zeroed 1024-byte buffers next to each other in
# scratch) into one call that the backend then fails to expand.
_MEM_CHUNK = 1024
_MERGE_SAFE_MEMSET = 64


def _mem_intrinsic(builder: ir.IRBuilder, name: str, pointers: list[ir.Value], size: int,
                   aligns: Sequence[int] = (8, 8)) -> None:
    module = builder.module
    if name == "llvm.memset":
        fn = module.declare_intrinsic(name, [PTR, I64])
    else:
        fn = module.declare_intrinsic(name, [PTR, PTR, I64])
    volatile = ir.Constant(I1, int(size > _MEM_CHUNK or (name == "llvm.memset"
                                                         and size > _MERGE_SAFE_MEMSET)))
    for start in range(0, size, _MEM_CHUNK):
        length = min(_MEM_CHUNK, size - start)
        ptrs = [p if start == 0 else _chunk(builder, p, start) for p in pointers]
        args = [ptrs[0], ir.Constant(I8, 0)] if name == "llvm.memset" else ptrs
        call = builder.call(fn, [*args, i64(length), volatile])
        for index in range(len(ptrs)):
            attributes = ir.values.ArgumentAttributes()
            attributes.align = aligns[index]
            call.arg_attributes[index] = attributes


# BPF loads and stores reach 32767 bytes past their base register. Further into
# scratch, LLVM computes each address into a register of its own, ahead of
# its use, and spills them past the 512-byte stack: an address that far is
# made a new base the optimiser cannot see through (`_far`).
_NEAR = 16384


def _chunk(builder: ir.IRBuilder, ptr: ir.Value, start: int) -> ir.Value:
    """`ptr + start`, for one chunk of a large memset or memcpy."""
    chunk = _opaque(builder.gep(ptr, [i64(start)], inbounds=True, source_etype=I8))
    return _far(builder, chunk) if start >= _NEAR else chunk


def _far(builder: ir.IRBuilder, ptr: ir.Value) -> ir.Value:
    """`ptr`, through an empty inline asm: a register whose value the compiler
    does not know, so that addresses near it are reached from it."""
    launder = ir.InlineAsm(ir.FunctionType(PTR, [PTR]), "", "=r,0", side_effect=False)
    result: ir.Value = builder.call(launder, [ptr])
    return result


class _VolatileLoad(ir.instructions.LoadInstr):  # type: ignore[misc]
    """`load volatile`, which llvmlite's IRBuilder cannot write."""

    def descr(self, buf: list[str]) -> None:
        inner: list[str] = []
        super().descr(inner)
        buf.append(inner[0].replace("load ", "load volatile ", 1))


class _VolatileStore(ir.instructions.StoreInstr):  # type: ignore[misc]
    """`store volatile`, which llvmlite's IRBuilder cannot write."""

    def descr(self, buf: list[str]) -> None:
        inner: list[str] = []
        super().descr(inner)
        buf.append(inner[0].replace("store ", "store volatile ", 1))


def _opaque(ptr: ir.Value) -> ir.Value:
    """Make an alloca's or GEP's type the opaque `ptr`.

    llvmlite gives them typed pointers even in opaque mode, and then refuses
    stores of other types through them; the IR text is `ptr` either way.
    """
    ptr.type = PTR
    return ptr


def _llvm_size(ty: ir.Type) -> int:
    if isinstance(ty, ir.IntType):
        width: int = ty.width
        return max(1, width // 8)
    if isinstance(ty, ir.ArrayType):
        return int(ty.count) * _llvm_size(ty.element)
    return 8
