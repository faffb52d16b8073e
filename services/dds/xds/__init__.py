"""DDS's IHE XDS.b SOAP face (ITI TF-2; dds-nsp.md §1, §4.3): DGWS-secured SOAP endpoints over the
same registry, rules, access guard and Min Log as the MHD face — one store, two doors."""
