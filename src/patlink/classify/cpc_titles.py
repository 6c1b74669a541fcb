"""Titles of CPC sections and of common CPC subclasses (English, abbreviated where the official title is long).

Only titles known with confidence are listed (the 9 sections and ~150 subclasses, covering the most frequent
labels of the bundled ``cpc-claims`` data); :func:`cpc_title` returns ``None`` for the rest rather than guess.
Source: the CPC scheme (EPO & USPTO, https://www.cooperativepatentclassification.org); "…" marks a shortened title.
"""

from __future__ import annotations

__all__ = ["CPC_SECTIONS", "CPC_SUBCLASSES", "cpc_title", "section_title"]

CPC_SECTIONS: dict[str, str] = {
    "A": "Human necessities",
    "B": "Performing operations; transporting",
    "C": "Chemistry; metallurgy",
    "D": "Textiles; paper",
    "E": "Fixed constructions",
    "F": "Mechanical engineering; lighting; heating; weapons; blasting",
    "G": "Physics",
    "H": "Electricity",
    "Y": "General tagging of new technological developments; cross-sectional technologies; former USPC "
         "cross-reference art collections [XRACs] and digests",
}

CPC_SUBCLASSES: dict[str, str] = {
    "A01B": "Soil working in agriculture or forestry …",
    "A01G": "Horticulture; cultivation of vegetables, flowers, rice, fruit, vines, hops or seaweed; forestry; watering",
    "A01H": "New plants or processes for obtaining them; plant reproduction by tissue culture techniques",
    "A01K": "Animal husbandry; care of birds, fishes, insects; fishing; …",
    "A01N": "Preservation of bodies of humans, animals or plants; biocides; pest repellants or attractants; "
            "plant growth regulators",
    "A23L": "Foods, foodstuffs, or non-alcoholic beverages, not otherwise provided for; …",
    "A61B": "Diagnosis; surgery; identification",
    "A61C": "Dentistry; apparatus or methods for oral or dental hygiene",
    "A61F": "Filters implantable into blood vessels; prostheses; orthopaedic, nursing or contraceptive devices; …",
    "A61K": "Preparations for medical, dental or toiletry purposes",
    "A61M": "Devices for introducing media into, or onto, the body; …",
    "A61N": "Electrotherapy; magnetotherapy; radiation therapy; ultrasound therapy",
    "A61P": "Specific therapeutic activity of chemical compounds or medicinal preparations",
    "A61Q": "Specific use of cosmetics or similar toiletry preparations",
    "A63B": "Apparatus for physical training, gymnastics, swimming, climbing, or fencing; ball games; …",
    "A63F": "Card, board, or roulette games; video games; …",
    "B01D": "Separation",
    "B01J": "Chemical or physical processes, e.g. catalysis or colloid chemistry; their relevant apparatus",
    "B23K": "Soldering or unsoldering; welding; cladding or plating by soldering or welding; cutting by applying "
            "heat locally; …",
    "B25J": "Manipulators; chambers provided with manipulation devices",
    "B29C": "Shaping or joining of plastics; …",
    "B32B": "Layered products",
    "B33Y": "Additive manufacturing",
    "B41J": "Typewriters; selective printing mechanisms; …",
    "B60L": "Propulsion of electrically-propelled vehicles; …",
    "B60R": "Vehicles, vehicle fittings, or vehicle parts, not otherwise provided for",
    "B60W": "Conjoint control of vehicle sub-units of different type or different function; …",
    "B62D": "Motor vehicles; trailers",
    "B64C": "Aeroplanes; helicopters",
    "B65D": "Containers for storage or transport of articles or materials; …",
    "B65G": "Transport or storage devices, e.g. conveyors; …",
    "B65H": "Handling thin or filamentary material, e.g. sheets, webs, cables",
    "B81B": "Microstructural devices or systems",
    "B82Y": "Specific uses or applications of nanostructures; …",
    "C01B": "Non-metallic elements; compounds thereof",
    "C02F": "Treatment of water, waste water, sewage, or sludge",
    "C04B": "Lime; magnesia; slag; cements; compositions thereof; …",
    "C07C": "Acyclic or carbocyclic compounds",
    "C07D": "Heterocyclic compounds",
    "C07F": "Acyclic, carbocyclic or heterocyclic compounds containing elements other than carbon, hydrogen, "
            "halogen, oxygen, nitrogen, sulfur, selenium or tellurium",
    "C07H": "Sugars; derivatives thereof; nucleosides; nucleotides; nucleic acids",
    "C07K": "Peptides",
    "C08F": "Macromolecular compounds obtained by reactions only involving carbon-to-carbon unsaturated bonds",
    "C08G": "Macromolecular compounds obtained otherwise than by reactions only involving carbon-to-carbon "
            "unsaturated bonds",
    "C08J": "Working-up; general processes of compounding; after-treatment …",
    "C08K": "Use of inorganic or non-macromolecular organic substances as compounding ingredients",
    "C08L": "Compositions of macromolecular compounds",
    "C09D": "Coating compositions; inks; …",
    "C09J": "Adhesives; …",
    "C09K": "Materials for miscellaneous applications, not provided for elsewhere",
    "C10M": "Lubricating compositions; …",
    "C11D": "Detergent compositions; …",
    "C12N": "Microorganisms or enzymes; compositions thereof; … mutation or genetic engineering; culture media",
    "C12P": "Fermentation or enzyme-using processes to synthesise a desired chemical compound or composition …",
    "C12Q": "Measuring or testing processes involving enzymes, nucleic acids or microorganisms; …",
    "C22C": "Alloys",
    "C23C": "Coating metallic material; …",
    "C25D": "Processes for the electrolytic or electrophoretic production of coatings; electroforming; …",
    "C30B": "Single-crystal growth; …",
    "D06F": "Laundering, drying, ironing, pressing or folding textile articles",
    "D21H": "Pulp compositions; …; paper",
    "E04B": "General building constructions; walls, e.g. partitions; roofs; floors; ceilings; insulation …",
    "E05B": "Locks; accessories therefor; handcuffs",
    "E21B": "Earth drilling, e.g. deep drilling; obtaining oil, gas, water, soluble or meltable materials or a "
            "slurry of minerals from wells",
    "F01D": "Non-positive-displacement machines or engines, e.g. steam turbines",
    "F01N": "Gas-flow silencers or exhaust apparatus for machines or engines in general; …",
    "F02B": "Internal-combustion piston engines; combustion engines in general",
    "F02C": "Gas-turbine plants; air intakes for jet-propulsion plants; …",
    "F02D": "Controlling combustion engines",
    "F02M": "Supplying combustion engines in general with combustible mixtures or constituents thereof",
    "F03D": "Wind motors",
    "F04B": "Positive-displacement machines for liquids; pumps",
    "F16C": "Shafts; flexible shafts; … bearings",
    "F16D": "Couplings for transmitting rotation; clutches; brakes",
    "F16H": "Gearing",
    "F16K": "Valves; taps; cocks; actuating-floats; devices for venting or aerating",
    "F16L": "Pipes; joints or fittings for pipes; supports for pipes, cables or protective tubing; means for "
            "thermal insulation in general",
    "F21S": "Non-portable lighting devices; …",
    "F21V": "Functional features or details of lighting devices or systems thereof; …",
    "F24F": "Air-conditioning; air-humidification; ventilation; use of air currents for screening",
    "F25B": "Refrigeration machines, plants or systems; combined heating and refrigeration systems; heat pump "
            "systems",
    "F25D": "Refrigerators; cold rooms; ice-boxes; cooling or freezing apparatus not otherwise provided for",
    "F28F": "Details of heat-exchange and heat-transfer apparatus, of general application",
    "G01B": "Measuring length, thickness or similar linear dimensions; measuring angles; measuring areas; …",
    "G01C": "Measuring distances, levels or bearings; surveying; navigation; gyroscopic instruments; "
            "photogrammetry or videogrammetry",
    "G01D": "Measuring not specially adapted for a specific variable; …",
    "G01F": "Measuring volume, volume flow, mass flow, or liquid level; metering by volume",
    "G01J": "Measurement of intensity, velocity, spectral content, polarisation, phase or pulse characteristics of "
            "infrared, visible or ultraviolet light; colorimetry; radiation pyrometry",
    "G01K": "Measuring temperature; measuring quantity of heat; …",
    "G01L": "Measuring force, stress, torque, work, mechanical power, mechanical efficiency, or fluid pressure",
    "G01M": "Testing static or dynamic balance of machines; testing of structures or apparatus, not otherwise "
            "provided for",
    "G01N": "Investigating or analysing materials by determining their chemical or physical properties",
    "G01R": "Measuring electric variables; measuring magnetic variables",
    "G01S": "Radio direction-finding; radio navigation; determining distance or velocity by use of radio waves; "
            "locating or presence-detecting by reflection of radio waves; analogous arrangements using other waves",
    "G01T": "Measurement of nuclear or X-radiation",
    "G01V": "Geophysics; gravitational measurements; detecting masses or objects; tags",
    "G02B": "Optical elements, systems or apparatus",
    "G02C": "Spectacles; sunglasses or goggles insofar as they have the same features as spectacles; contact lenses",
    "G02F": "Optical devices or arrangements for the control of light by modification of the optical properties "
            "of the media; non-linear optics; …",
    "G03B": "Apparatus or arrangements for taking photographs or for projecting or viewing them; …",
    "G03F": "Photomechanical production of textured or patterned surfaces, e.g. for processing of semiconductor "
            "devices; …",
    "G03G": "Electrography; electrophotography; magnetography",
    "G05B": "Control or regulating systems in general; functional elements of such systems; monitoring or testing "
            "arrangements for such systems or elements",
    "G05D": "Systems for controlling or regulating non-electric variables",
    "G05F": "Systems for regulating electric or magnetic variables",
    "G06F": "Electric digital data processing",
    "G06K": "Graphical data reading; presentation of data; record carriers; handling record carriers",
    "G06N": "Computing arrangements based on specific computational models",
    "G06Q": "ICT specially adapted for administrative, commercial, financial, managerial or supervisory purposes; …",
    "G06T": "Image data processing or generation, in general",
    "G07C": "Time or attendance registers; registering or indicating the working of machines; …",
    "G07F": "Coin-freed or like apparatus",
    "G08B": "Signalling or calling systems; order telegraphs; alarm systems",
    "G08G": "Traffic control systems",
    "G09B": "Educational or demonstration appliances; …",
    "G09F": "Displaying; advertising; signs; labels or name-plates; seals",
    "G09G": "Arrangements or circuits for control of indicating devices using static means to present variable "
            "information",
    "G10L": "Speech analysis or synthesis; speech recognition; speech or voice processing; speech or audio coding "
            "or decoding",
    "G11B": "Information storage based on relative movement between record carrier and transducer",
    "G11C": "Static stores",
    "G16B": "Bioinformatics, i.e. ICT specially adapted for genetic or protein-related data processing in "
            "computational molecular biology",
    "G16H": "Healthcare informatics, i.e. ICT specially adapted for the handling or processing of medical or "
            "healthcare data",
    "G21C": "Nuclear reactors",
    "H01B": "Cables; conductors; insulators; selection of materials for their conductive, insulating or dielectric "
            "properties",
    "H01F": "Magnets; inductances; transformers; selection of materials for their magnetic properties",
    "H01G": "Capacitors; capacitors, rectifiers, detectors, switching devices … of the electrolytic type",
    "H01H": "Electric switches; relays; selectors; emergency protective devices",
    "H01J": "Electric discharge tubes or discharge lamps",
    "H01L": "Semiconductor devices; electric solid-state devices not otherwise provided for",
    "H01M": "Processes or means, e.g. batteries, for the direct conversion of chemical energy into electrical energy",
    "H01P": "Waveguides; resonators, lines, or other devices of the waveguide type",
    "H01Q": "Antennas, i.e. radio aerials",
    "H01R": "Electrically-conductive connections; …; coupling devices; current collectors",
    "H01S": "Devices using stimulated emission of electromagnetic radiation (lasers, masers)",
    "H02H": "Emergency protective circuit arrangements",
    "H02J": "Circuit arrangements or systems for supplying or distributing electric power; systems for storing "
            "electric energy",
    "H02K": "Dynamo-electric machines",
    "H02M": "Apparatus for conversion between AC and AC, between AC and DC, or between DC and DC; …",
    "H02P": "Control or regulation of electric motors, electric generators or dynamo-electric converters; …",
    "H02S": "Generation of electric power by conversion of infrared radiation, visible light or ultraviolet light, "
            "e.g. using photovoltaic [PV] modules",
    "H03F": "Amplifiers",
    "H03H": "Impedance networks, e.g. resonant circuits; resonators",
    "H03K": "Pulse technique",
    "H03L": "Automatic control, starting, synchronisation or stabilisation of generators of electronic oscillations "
            "or pulses",
    "H03M": "Coding; decoding; code conversion in general",
    "H04B": "Transmission",
    "H04H": "Broadcast communication",
    "H04J": "Multiplex communication",
    "H04K": "Secret communication; jamming of communication",
    "H04L": "Transmission of digital information, e.g. telegraphic communication",
    "H04M": "Telephonic communication",
    "H04N": "Pictorial communication, e.g. television",
    "H04Q": "Selecting",
    "H04R": "Loudspeakers, microphones, gramophone pick-ups or like acoustic electromechanical transducers; deaf-aid "
            "sets; public address systems",
    "H04S": "Stereophonic systems",
    "H04W": "Wireless communication networks",
    "H05B": "Electric heating; electric light sources not otherwise provided for; …",
    "H05K": "Printed circuits; casings or constructional details of electric apparatus; manufacture of assemblages "
            "of electrical components",
    "Y02A": "Technologies for adaptation to climate change",
    "Y02B": "Climate change mitigation technologies related to buildings, e.g. housing, house appliances or related "
            "end-user applications",
    "Y02C": "Capture, storage, sequestration or disposal of greenhouse gases [GHG]",
    "Y02D": "Climate change mitigation technologies in information and communication technologies [ICT]",
    "Y02E": "Reduction of greenhouse gas [GHG] emissions, related to energy generation, transmission or distribution",
    "Y02P": "Climate change mitigation technologies in the production or processing of goods",
    "Y02T": "Climate change mitigation technologies related to transportation",
    "Y02W": "Climate change mitigation technologies related to wastewater treatment or waste management",
    "Y04S": "Systems integrating technologies related to power network operation, communication or information "
            "technologies (smart grids)",
    "Y10S": "Technical subjects covered by former USPC cross-reference art collections [XRACs] and digests",
    "Y10T": "Technical subjects covered by former US classification",
}


def section_title(code: str) -> str | None:
    """Title of the CPC section of ``code`` (its first letter), or ``None`` for an unknown letter."""
    return CPC_SECTIONS.get(code.strip()[:1].upper()) if code and code.strip() else None


def cpc_title(code: str) -> str | None:
    """Title of a CPC subclass (``"G06F"``) or section (``"G"``); ``None`` when not listed here.

    Longer symbols (``"G06F 16/00"``) are looked up by their subclass.
    """
    c = (code or "").strip().upper()
    if len(c) == 1:
        return CPC_SECTIONS.get(c)
    return CPC_SUBCLASSES.get(c[:4])
