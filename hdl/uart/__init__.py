"""Device-side UART link layer of the spikeport protocol (see toolchain/runtime/protocol.py)."""

from hdl.uart.link import Deframer, Framer, UartRx, UartTx, crc16_next

__all__ = ["Deframer", "Framer", "UartRx", "UartTx", "crc16_next"]
